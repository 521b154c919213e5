// A thin, safe layer over LMDB (LIBRARY-FACTS §1):
//
// - Every environment is opened once per process, through one registry keyed
//   by the directory's (device, inode); opening it a second time hands back
//   the same handle, because a second open and close in one process breaks
//   LMDB's locking for every other process.
// - The registry keeps a bounded LRU of environments nobody is using, so
//   thousands of idle users do not pin thousands of maps and descriptors.
// - MDB_NOTLS everywhere and one maxreaders value for every binary; stale
//   reader slots are cleared at open and whenever the table is full.
// - The map grows by itself: a write that hits MDB_MAP_FULL is aborted,
//   the map doubled and the write run again; MDB_MAP_RESIZED from another
//   process's growth is adopted. Write functions may therefore run more than
//   once: whatever they do outside the transaction must be safe to repeat.
// - The default sync mode is kept: a commit is durable when it returns.
//
// Errors are values. Nothing here throws.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>
#include <shared_mutex>
#include <string>
#include <string_view>

namespace roost::index {

struct LmdbError {
  int code = 0;      // an MDB_* code or an errno value
  std::string what;  // the call that failed and the path, for the log
};

// Reader slots per environment; every process must use the same number
// because whoever creates lock.mdb fixes it.
inline constexpr unsigned kMaxReaders = 512;

struct DbSpec {
  const char* name;
  unsigned flags;  // MDB_INTEGERKEY, MDB_DUPSORT, ...
};

class Txn;

class Env {
 public:
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  MDB_dbi dbi(unsigned index) const { return dbis_[index]; }

  // Runs `body` in a read transaction.
  std::expected<void, LmdbError> read(const std::function<std::expected<void, LmdbError>(Txn&)>& body);

  // Runs `body` in a write transaction and commits it. `body` may run again
  // after a map growth, so it must read what it needs from the transaction.
  // With `sync_meta` false the commit flushes its data but not the meta
  // page (MDB_NOMETASYNC): still atomic and consistent, and a crash can lose
  // only this last commit, which the caller must be able to redo from
  // durable facts of its own.
  std::expected<void, LmdbError> write(const std::function<std::expected<void, LmdbError>(Txn&)>& body,
                                       bool sync_meta = true);

  std::size_t map_size() const;

 private:
  friend class EnvRegistry;
  friend class Txn;
  Env() = default;
  std::expected<MDB_txn*, LmdbError> begin(bool write);
  std::expected<MDB_txn*, LmdbError> begin_adopting(bool write, std::shared_lock<std::shared_mutex>& lock);
  std::expected<void, LmdbError> grow(std::size_t at_least);

  MDB_env* env_ = nullptr;
  std::filesystem::path dir_;
  std::vector<MDB_dbi> dbis_;
  mutable std::shared_mutex resize_;  // shared by every transaction; exclusive to remap
  std::mutex writer_;                 // one writer per environment in this process
};

// A transaction in progress. Values read through it are valid until it ends.
class Txn {
 public:
  MDB_txn* get() const { return txn_; }
  Env& env() const { return *env_; }

  std::expected<std::string_view, LmdbError> get(MDB_dbi dbi, std::string_view key) const;  // code MDB_NOTFOUND when absent
  std::expected<void, LmdbError> put(MDB_dbi dbi, std::string_view key, std::string_view value,
                                     unsigned flags = 0);
  // Deletes a key (value empty) or one duplicate (value given). Absent is not an error.
  std::expected<void, LmdbError> del(MDB_dbi dbi, std::string_view key, std::string_view value = {});

 private:
  friend class Env;
  Txn(Env* env, MDB_txn* txn) : env_(env), txn_(txn) {}
  Env* env_;
  MDB_txn* txn_;
};

// A cursor over one database of a transaction, closed with it.
class Cursor {
 public:
  Cursor(const Txn& txn, MDB_dbi dbi);
  ~Cursor();
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  bool ok() const { return cursor_ != nullptr; }
  // Positions the cursor; false at the end or on error.
  bool get(MDB_cursor_op op, std::string_view* key = nullptr, std::string_view* value = nullptr,
           std::string_view seek_key = {}, std::string_view seek_value = {});
  // Writes through the cursor, which then stays on the written item: keys
  // written in order mostly fall on its page, which LMDB searches without
  // descending from the root as Txn::put does. MDB_KEYEXIST under
  // MDB_NODUPDATA is not an error.
  std::expected<void, LmdbError> put(std::string_view key, std::string_view value, unsigned flags = 0);
  // Adds `value` after the last duplicate of `key` (MDB_APPENDDUP, no search
  // among them); false, and nothing written, when it would not sort last.
  std::expected<bool, LmdbError> append_dup(std::string_view key, std::string_view value);
  // Deletes the item under the cursor.
  std::expected<void, LmdbError> del();
  MDB_cursor* raw() const { return cursor_; }

 private:
  const Env* env_;
  MDB_cursor* cursor_ = nullptr;
};

struct EnvOptions {
  std::size_t initial_map_size = std::size_t{64} << 20;
  std::vector<DbSpec> dbs;  // opened (created if missing) in this order
  bool create = true;       // create the directory when it does not exist
  // MDB_NOSYNC for environments that are pure caches of something durable
  // elsewhere: commits cost no flush; after a crash the cache may be stale
  // or damaged, and the caller must detect that and rebuild.
  bool no_sync = false;
};

// The process-wide registry. Thread-safe.
class EnvRegistry {
 public:
  static EnvRegistry& instance();

  // The environment in `dir`, opened now or already open. `keep_idle` is
  // how many environments no caller holds stay open (LRU).
  std::expected<std::shared_ptr<Env>, LmdbError> open(const std::filesystem::path& dir,
                                                      const EnvOptions& options);
  void set_keep_idle(std::size_t count);
  // Closes an environment nobody holds, so its files may be removed.
  void forget(const std::filesystem::path& dir);
  std::size_t open_count() const;
  // Called when opening an environment or committing a write failed for
  // want of disk space (ENOSPC): true if it freed some, and the open or the
  // commit is tried again (storage gives back part of its disk reserve, so
  // that users can still read and expunge on a full disk).
  void set_room_maker(std::function<bool()> make_room);
  bool make_room();

 private:
  struct Impl;
  EnvRegistry();
  std::expected<std::shared_ptr<Env>, LmdbError> open_once(const std::filesystem::path& dir,
                                                           const EnvOptions& options);
  std::unique_ptr<Impl> impl_;
};

// Fixed-width big-endian keys sort numerically under LMDB's byte order.
void append_be32(std::string& out, std::uint32_t value);
void append_be64(std::string& out, std::uint64_t value);
std::uint32_t read_be32(std::string_view in);
std::uint64_t read_be64(std::string_view in);

inline std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}
inline MDB_val as_val(std::string_view s) {
  return {s.size(), const_cast<char*>(s.data())};
}

}  // namespace roost::index

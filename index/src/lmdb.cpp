#include "roost/index/lmdb.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <list>
#include <map>
#include <mutex>
#include <system_error>

namespace roost::index {

namespace {

LmdbError error(int code, std::string_view call, const std::filesystem::path& dir) {
  return {code, std::string(call) + " " + dir.string() + ": " + mdb_strerror(code)};
}

// How many times a transaction is retried after the map grew or another
// process resized it; more means something else is wrong.
constexpr int kMaxAttempts = 8;

}  // namespace

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

std::size_t Env::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

std::expected<MDB_txn*, LmdbError> Env::begin(bool write) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, write ? 0 : MDB_RDONLY, &txn);
    if (rc == 0) return txn;
    if (rc == MDB_READERS_FULL) {
      int dead = 0;
      mdb_reader_check(env_, &dead);
      if (dead > 0) continue;
      return std::unexpected(error(rc, "mdb_txn_begin", dir_));
    }
    if (rc == MDB_MAP_RESIZED) {
      // Another process grew the map past ours: adopt its size. Callers hold
      // resize_ shared, so they must release and come back; signal that.
      return std::unexpected(error(rc, "mdb_txn_begin", dir_));
    }
    return std::unexpected(error(rc, "mdb_txn_begin", dir_));
  }
  return std::unexpected(error(MDB_READERS_FULL, "mdb_txn_begin", dir_));
}

std::expected<void, LmdbError> Env::grow(std::size_t at_least) {
  std::unique_lock lock(resize_);
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  std::size_t size = std::max(at_least, info.me_mapsize);
  int rc = mdb_env_set_mapsize(env_, size);
  if (rc != 0) return std::unexpected(error(rc, "mdb_env_set_mapsize", dir_));
  return {};
}

// A transaction under resize_ held shared; adopts another process's larger
// map (MDB_MAP_RESIZED) and tries again.
std::expected<MDB_txn*, LmdbError> Env::begin_adopting(bool write, std::shared_lock<std::shared_mutex>& lock) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    lock = std::shared_lock(resize_);
    auto txn = begin(write);
    if (txn || txn.error().code != MDB_MAP_RESIZED) return txn;
    lock.unlock();
    if (auto grown = grow(0); !grown) return std::unexpected(grown.error());
  }
  return std::unexpected(error(MDB_MAP_RESIZED, "mdb_txn_begin", dir_));
}

std::expected<void, LmdbError> Env::read(
    const std::function<std::expected<void, LmdbError>(Txn&)>& body) {
  std::shared_lock<std::shared_mutex> lock;
  auto txn = begin_adopting(false, lock);
  if (!txn) return std::unexpected(txn.error());
  Txn t(this, *txn);
  auto result = body(t);
  mdb_txn_abort(*txn);
  return result;
}

std::expected<void, LmdbError> Env::write(
    const std::function<std::expected<void, LmdbError>(Txn&)>& body, bool sync_meta) {
  std::lock_guard writer(writer_);
  // The flag belongs to this process's handle, and writer_ makes this the
  // only commit in the process while it is set.
  if (!sync_meta) mdb_env_set_flags(env_, MDB_NOMETASYNC, 1);
  struct Restore {
    MDB_env* env;
    bool active;
    ~Restore() {
      if (active) mdb_env_set_flags(env, MDB_NOMETASYNC, 0);
    }
  } restore{env_, !sync_meta};
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::shared_lock<std::shared_mutex> lock;
    auto txn = begin_adopting(true, lock);
    if (!txn) return std::unexpected(txn.error());
    Txn t(this, *txn);
    auto result = body(t);
    if (!result) {
      mdb_txn_abort(*txn);
      if (result.error().code == ENOSPC && EnvRegistry::instance().make_room()) continue;
      if (result.error().code != MDB_MAP_FULL) return result;
    } else {
      int rc = mdb_txn_commit(*txn);
      if (rc == 0) return {};
      if (rc == ENOSPC && EnvRegistry::instance().make_room()) continue;
      if (rc != MDB_MAP_FULL) return std::unexpected(error(rc, "mdb_txn_commit", dir_));
    }
    lock.unlock();
    if (auto grown = grow(map_size() * 2); !grown) return grown;
  }
  return std::unexpected(error(MDB_MAP_FULL, "write", dir_));
}

std::expected<std::string_view, LmdbError> Txn::get(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = as_val(key), v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc != 0) return std::unexpected(error(rc, "mdb_get", env_->dir()));
  return as_view(v);
}

std::expected<void, LmdbError> Txn::put(MDB_dbi dbi, std::string_view key, std::string_view value,
                                        unsigned flags) {
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, flags);
  if (rc != 0 && !(rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA)))
    return std::unexpected(error(rc, "mdb_put", env_->dir()));
  return {};
}

std::expected<void, LmdbError> Txn::del(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_del(txn_, dbi, &k, value.empty() ? nullptr : &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return std::unexpected(error(rc, "mdb_del", env_->dir()));
  return {};
}

Cursor::Cursor(const Txn& txn, MDB_dbi dbi) : env_(&txn.env()) {
  if (mdb_cursor_open(txn.get(), dbi, &cursor_) != 0) cursor_ = nullptr;
}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

bool Cursor::get(MDB_cursor_op op, std::string_view* key, std::string_view* value,
                 std::string_view seek_key, std::string_view seek_value) {
  if (cursor_ == nullptr) return false;
  MDB_val k = as_val(seek_key), v = as_val(seek_value);
  if (mdb_cursor_get(cursor_, &k, &v, op) != 0) return false;
  if (key != nullptr) *key = as_view(k);
  if (value != nullptr) *value = as_view(v);
  return true;
}

std::expected<void, LmdbError> Cursor::put(std::string_view key, std::string_view value, unsigned flags) {
  if (cursor_ == nullptr) return std::unexpected(error(EINVAL, "mdb_cursor_open", env_->dir()));
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_cursor_put(cursor_, &k, &v, flags);
  if (rc != 0 && !(rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA)))
    return std::unexpected(error(rc, "mdb_cursor_put", env_->dir()));
  return {};
}

std::expected<bool, LmdbError> Cursor::append_dup(std::string_view key, std::string_view value) {
  if (cursor_ == nullptr) return std::unexpected(error(EINVAL, "mdb_cursor_open", env_->dir()));
  MDB_val k = as_val(key), v = as_val(value);
  int rc = mdb_cursor_put(cursor_, &k, &v, MDB_APPENDDUP);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != 0) return std::unexpected(error(rc, "mdb_cursor_put", env_->dir()));
  return true;
}

std::expected<void, LmdbError> Cursor::del() {
  if (cursor_ == nullptr) return std::unexpected(error(EINVAL, "mdb_cursor_open", env_->dir()));
  int rc = mdb_cursor_del(cursor_, 0);
  if (rc != 0) return std::unexpected(error(rc, "mdb_cursor_del", env_->dir()));
  return {};
}

struct EnvRegistry::Impl {
  using Id = std::pair<dev_t, ino_t>;
  struct Entry {
    std::shared_ptr<Env> env;
    std::filesystem::path dir;
    std::list<Id>::iterator place;  // in `recent`
  };
  mutable std::mutex mutex;
  std::map<Id, Entry> open;
  std::list<Id> recent;  // most recently used first
  std::size_t keep_idle = 256;
  std::mutex room_mutex;
  std::function<bool()> make_room;

  void touch(Entry& entry) { recent.splice(recent.begin(), recent, entry.place); }

  // Closes the least recently used environments nobody else holds.
  void trim() {
    std::size_t idle = 0;
    for (auto it = recent.begin(); it != recent.end();) {
      auto entry = open.find(*it);
      if (entry != open.end() && entry->second.env.use_count() == 1 && ++idle > keep_idle) {
        open.erase(entry);
        it = recent.erase(it);
      } else {
        ++it;
      }
    }
  }
};

EnvRegistry::EnvRegistry() : impl_(std::make_unique<Impl>()) {}

EnvRegistry& EnvRegistry::instance() {
  static EnvRegistry registry;
  return registry;
}

void EnvRegistry::set_keep_idle(std::size_t count) {
  std::lock_guard lock(impl_->mutex);
  impl_->keep_idle = count;
  impl_->trim();
}

std::size_t EnvRegistry::open_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open.size();
}

void EnvRegistry::forget(const std::filesystem::path& dir) {
  std::lock_guard lock(impl_->mutex);
  for (auto it = impl_->open.begin(); it != impl_->open.end(); ++it) {
    if (it->second.dir == dir && it->second.env.use_count() == 1) {
      impl_->recent.erase(it->second.place);
      impl_->open.erase(it);
      return;
    }
  }
}

namespace {

// Gives `dir`/lock.mdb real blocks for LMDB's reader table (its size is
// sizeof(MDB_txninfo) + (maxreaders - 1) * sizeof(MDB_reader), 64-byte
// entries; LMDB takes a larger file as it is). An errno value, or 0.
int allocate_lock_file(const std::filesystem::path& dir) {
  constexpr off_t kBytes = ((kMaxReaders + 4) * 64 + 4095) / 4096 * 4096;
  int fd = ::open((dir / "lock.mdb").c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  struct stat st{};
  int failed = ::fstat(fd, &st) != 0 ? errno : 0;
  // Blocks already there (st_blocks counts 512-byte units): nothing to do.
  if (failed == 0 && (st.st_size < kBytes || st.st_blocks * 512 < kBytes)) failed = ::posix_fallocate(fd, 0, kBytes);
  ::close(fd);
  return failed;
}

}  // namespace

void EnvRegistry::set_room_maker(std::function<bool()> make_room) {
  std::lock_guard lock(impl_->room_mutex);
  impl_->make_room = std::move(make_room);
}

bool EnvRegistry::make_room() {
  std::function<bool()> maker;
  {
    std::lock_guard lock(impl_->room_mutex);
    maker = impl_->make_room;
  }
  return maker && maker();
}

std::expected<std::shared_ptr<Env>, LmdbError> EnvRegistry::open(const std::filesystem::path& dir,
                                                                  const EnvOptions& options) {
  for (int attempt = 0;; ++attempt) {
    auto env = open_once(dir, options);
    if (env || env.error().code != ENOSPC || attempt == kMaxAttempts || !make_room()) return env;
  }
}

std::expected<std::shared_ptr<Env>, LmdbError> EnvRegistry::open_once(const std::filesystem::path& dir,
                                                                       const EnvOptions& options) {
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT || !options.create) return std::unexpected(error(errno, "stat", dir));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (::stat(dir.c_str(), &st) != 0) return std::unexpected(error(errno, "stat", dir));
  }
  Impl::Id id{st.st_dev, st.st_ino};

  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->open.find(id); it != impl_->open.end()) {
    impl_->touch(it->second);
    return it->second.env;
  }
  std::shared_ptr<Env> env(new Env());
  env->dir_ = dir;
  int rc = mdb_env_create(&env->env_);
  if (rc != 0) return std::unexpected(error(rc, "mdb_env_create", dir));
  mdb_env_set_maxreaders(env->env_, kMaxReaders);
  mdb_env_set_maxdbs(env->env_, static_cast<MDB_dbi>(options.dbs.size() + 1));
  mdb_env_set_mapsize(env->env_, options.initial_map_size);
  // LMDB maps its lock file and writes its reader table through the map: on
  // a full disk the first store to a page the file system cannot back is a
  // SIGBUS that ends the whole process. The lock file's blocks are taken
  // here first, so that a full disk is an error (ENOSPC) instead.
  if (int failed = allocate_lock_file(dir); failed != 0) return std::unexpected(error(failed, "allocate lock.mdb", dir));
  // Opening can fail while another process opens or closes the same
  // environment at that instant (lmdb.h caveats): try again briefly.
  for (int attempt = 0;; ++attempt) {
    rc = mdb_env_open(env->env_, dir.c_str(), MDB_NOTLS | (options.no_sync ? MDB_NOSYNC : 0u), 0600);
    if (rc == 0 || attempt == 3 || (rc != EAGAIN && rc != EBUSY)) break;
  }
  if (rc != 0) return std::unexpected(error(rc, "mdb_env_open", dir));
  int dead = 0;
  mdb_reader_check(env->env_, &dead);
  // Adopt a larger map another process has already persisted.
  MDB_envinfo info{};
  mdb_env_info(env->env_, &info);
  if (info.me_mapsize < options.initial_map_size) mdb_env_set_mapsize(env->env_, options.initial_map_size);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env_, nullptr, 0, &txn);
  if (rc != 0) return std::unexpected(error(rc, "mdb_txn_begin", dir));
  for (const DbSpec& spec : options.dbs) {
    MDB_dbi dbi = 0;
    rc = mdb_dbi_open(txn, spec.name, spec.flags | MDB_CREATE, &dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return std::unexpected(error(rc, "mdb_dbi_open", dir));
    }
    env->dbis_.push_back(dbi);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return std::unexpected(error(rc, "mdb_txn_commit", dir));

  impl_->recent.push_front(id);
  impl_->open.emplace(id, Impl::Entry{env, dir, impl_->recent.begin()});
  impl_->trim();
  return env;
}

void append_be32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void append_be64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

std::uint32_t read_be32(std::string_view in) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4 && i < in.size(); ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

std::uint64_t read_be64(std::string_view in) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8 && i < in.size(); ++i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

}  // namespace roost::index

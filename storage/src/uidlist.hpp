// The durable UID map of a folder: a `dovecot-uidlist` file, version 3
// (LIBRARY-FACTS §2), so that the index can be thrown away at any time and a
// maildir moves between Dovecot and Roost with its UIDVALIDITY and UIDs.
//
//   3 V<uidvalidity> N<nextuid> G<guid>     header; other fields are kept
//   <uid>[ <ext>...] :<key>                 one line per message
//
// New messages are appended (O_APPEND, then fdatasync): the cost of a
// delivery does not grow with the folder. The whole file is rewritten
// (temporary file, fsync, rename) only to create it or to drop the lines of
// expunged messages. Writers are serialised by the folder index's write
// transaction; readers need no lock because both kinds of write are atomic
// for a reader that stops at the last complete line.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace roost::storage::uidlist {

struct Header {
  std::uint32_t uidvalidity = 0;
  std::uint32_t next_uid = 1;
  std::string guid;   // 32 hex digits
  std::string other;  // fields we do not interpret, kept on rewrite
};

struct Entry {
  std::uint32_t uid = 0;
  std::string key;
  std::string ext;  // " S<size> W<vsize> G<guid> ..." as written
};

// The `G` field: the message's identity when it differs from its key (a
// copy keeps its source's); empty when absent.
std::string guid_of(const Entry& entry);
// The `P` field: the POP3 UIDL a migration recorded for the message (Dovecot's
// migration tools write it); empty when absent or not a valid UIDL (RFC 1939
// §7: 1 to 70 characters from 0x21 to 0x7E).
std::string pop3_uidl_of(const Entry& entry);
// An entry for a message with this key and identity (`guid` empty or equal
// to the key: no `G` field) and recorded POP3 UIDL (empty: no `P` field).
Entry entry_for(std::uint32_t uid, const std::string& key, const std::string& guid,
                const std::string& pop3_uidl = {});

struct Contents {
  Header header;
  std::vector<Entry> entries;  // in file order (ascending UIDs)
  std::uint64_t end = 0;       // offset after the last complete line
  std::uint64_t inode = 0;
};

inline constexpr std::string_view kFileName = "dovecot-uidlist";

// Parses file content: the whole file, or (incremental) lines appended after
// an earlier read, which carry no header. Stops at the last complete line;
// `end` counts from the start of `data`. False when the header is unreadable.
bool parse(std::string_view data, bool incremental, Contents& out);

// Reads the file; with `from` (inode and offset of an earlier read) and an
// unchanged inode, only the lines appended since. Missing file: ENOENT.
std::expected<Contents, std::error_code> read(const std::filesystem::path& file,
                                              std::optional<std::pair<std::uint64_t, std::uint64_t>> from = {});

// Reads only the header line (the mailbox GUID without the whole list).
std::expected<Header, std::error_code> read_header(const std::filesystem::path& file);

// A GUID fit to name a mailbox to clients (RFC 8474 objectid characters).
bool usable_guid(std::string_view guid);

// Replaces the file with this content. Returns the new inode and size.
std::expected<std::pair<std::uint64_t, std::uint64_t>, std::error_code> rewrite(
    const std::filesystem::path& file, const Header& header, const std::vector<Entry>& entries);

// Appends lines, durably unless the caller flushes the file itself (in
// parallel with other flushes). Returns the new size.
std::expected<std::uint64_t, std::error_code> append(const std::filesystem::path& file,
                                                     const std::vector<Entry>& entries, bool durable = true);

std::string new_guid();

// Dovecot's lock on a folder's UID list: `dovecot-uidlist.lock` beside it,
// created exclusively and holding "pid:host", removed when done. Dovecot
// takes it while it assigns UIDs and writes the list; Roost takes it for the
// same while Dovecot serves the folder too (a migration running both), so
// that the two never give one UID to two files.
class DovecotLock {
 public:
  DovecotLock(DovecotLock&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  DovecotLock& operator=(DovecotLock&&) = delete;
  ~DovecotLock();

  // Takes the lock of `uidlist`, waiting up to `timeout` for its holder. A
  // lock older than two minutes, or naming a process of this host that is
  // gone, is stale and replaced (as Dovecot does). errc::timed_out when the
  // holder keeps it.
  static std::expected<DovecotLock, std::error_code> take(const std::filesystem::path& uidlist,
                                                          std::chrono::milliseconds timeout);

 private:
  explicit DovecotLock(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Whether Dovecot serves the folder in `dir` as well: it keeps its index
// there (dovecot.index.log). One stat.
bool dovecot_serves(const std::filesystem::path& dir);

// A UIDVALIDITY for a new folder of the user whose maildir is `user_root`:
// the time in seconds, but always above the last one handed out there (kept
// in `roost-uidvalidity`), so that a folder deleted and created again within
// a second still gets a new one (RFC 9051 §2.3.1.1). Without the file (or
// when it cannot be written) the time alone: after a crash the clock has
// moved on, so the file needs no fsync.
std::uint32_t allocate_uidvalidity(const std::filesystem::path& user_root, std::uint32_t now);

}  // namespace roost::storage::uidlist

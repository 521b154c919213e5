// Maildir file names and durable file operations (LIBRARY-FACTS §2).
//
// A file name is  <key>[,S=<size>][,W=<vsize>][:2,<info>]  where <key> is
// the unique base name, <info> the flags in ASCII order (D F P R S T) and
// Dovecot's keyword letters a-z. The key, everything before ':', names the
// message for good; renames change only what follows.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace roost::storage::maildir {

struct FileName {
  std::string key;            // before ':'
  std::uint32_t flags = 0;    // index::flag bits
  std::uint64_t keywords = 0; // bit n: letter 'a' + n
  std::optional<std::uint64_t> size;   // S=
  std::optional<std::uint64_t> vsize;  // W=
  bool passed = false;        // P (forwarded): kept, not an IMAP flag
  std::string unknown_info;   // other letters of a ":2," info, and anything after its second comma: kept
};

FileName parse(std::string_view name);
// The name for `key` with these flags, in cur/.
std::string with_flags(const FileName& name);

// A fresh unique key: <sec>.M<usec>P<pid>Q<n>R<random>.<host>,S=<size>,W=<vsize>
std::string unique_name(std::string_view host, std::uint64_t size, std::uint64_t vsize);

// Host part of unique names: '/' and ':' escaped as maildir(5) says.
std::string sanitize_host(std::string_view host);

// The process that wrote a file of Roost's own name (unique_name) on host
// `host` (sanitized); nullopt for any other name.
std::optional<int> roost_writer(std::string_view name, std::string_view host);

// A dovecot-keywords file: "<n> <name>" per line, n below 26; anything
// else is skipped. Index n of the result is keyword letter 'a' + n.
std::vector<std::string> parse_keywords(std::string_view text);

// Writes `data` to a new file (O_EXCL) and fsyncs it; removes it on failure.
std::error_code write_new_file(const std::filesystem::path& path, std::string_view data, std::int64_t mtime);

// The same in two steps, for a caller with other work meanwhile: start()
// writes the file and starts its writeback (sync_file_range), finish()
// fsyncs it, which then mostly waits for what is already under way. A file
// never finished is closed and left for the stale tmp/ clean-up.
class NewFile {
 public:
  static std::expected<NewFile, std::error_code> start(const std::filesystem::path& path, std::string_view data,
                                                       std::int64_t mtime);
  NewFile(NewFile&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }
  NewFile& operator=(NewFile&&) = delete;
  ~NewFile();
  // Durable, or removed with the error.
  std::error_code finish();

 private:
  NewFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};
// Replaces a small file whole: a temporary file named for this writer alone
// (concurrent writers never trip over each other's), fsynced, renamed over
// `file`, the directory fsynced.
std::error_code replace_file(const std::filesystem::path& file, std::string_view text);

// An exclusive advisory lock (flock) on `file`, created if missing, held
// until destroyed. flock belongs to the open file, so it excludes other
// threads of this process as well as other processes.
class FileLock {
 public:
  static std::expected<FileLock, std::error_code> exclusive(const std::filesystem::path& file);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// rename without replacing (RENAME_NOREPLACE).
std::error_code rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to);
std::error_code fsync_directory(const std::filesystem::path& dir);
std::error_code fsync_file(const std::filesystem::path& path);

// Reads a whole file or a byte range of it.
std::expected<std::string, std::error_code> read_file(const std::filesystem::path& path);
std::expected<std::string, std::error_code> read_range(const std::filesystem::path& path, std::uint64_t offset,
                                                       std::uint64_t length);

}  // namespace roost::storage::maildir

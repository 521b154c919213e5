// What a MOVE is about to do, written before it copies (RFC 6851 §3.3: a
// message SHOULD NOT end up in both folders), so that a process killed
// between the copy and the source's expunge is finished by the next one.
//
// The journal is a small file in the user's tmp/ with Roost's unique name
// (maildir::unique_name, ",move" in place of the sizes): it names the source
// and destination folder directories and each source file with its inode. A
// copy hard-links the source file into the destination, so after a crash a
// file of the destination with the same inode says the copy was made: the
// source file goes. Otherwise the source stays (a copy that could not be
// linked keeps both rather than risk a loss).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace roost::storage::move_journal {

struct Source {
  std::string file_key;  // the maildir base name
  ino_t inode = 0;
  std::uint64_t size = 0;  // bytes, for the quota when recovery removes it
};

// A journal written (and, with `flush`, made durable) for one MOVE; removed
// when destroyed, once the move has run its course either way.
class Journal {
 public:
  static std::expected<Journal, std::error_code> begin(const std::filesystem::path& root, std::string_view host,
                                                       const std::filesystem::path& source_dir,
                                                       const std::filesystem::path& destination_dir,
                                                       const std::vector<Source>& sources, bool flush);
  Journal(Journal&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  Journal& operator=(Journal&&) = delete;
  ~Journal();

 private:
  explicit Journal(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

// Finishes the moves of Roost processes of this host that are gone: removes
// each source file whose copy reached the destination, then the journal.
// Returns how many source files it removed; their bytes and count leave the
// quota.
std::size_t recover(const std::filesystem::path& root, std::string_view host);

}  // namespace roost::storage::move_journal

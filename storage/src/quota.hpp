// Per-user usage in a Maildir++ `maildirsize` file (LIBRARY-FACTS §2), so
// that Dovecot and Courier read the same numbers:
//
//   <bytes>S,<count>C       limits (0: none)
//   <bytes> <count>         usage at the last recount, then one line per change
//
// Changes are appended (O_APPEND, one write each); the file is recounted
// from the maildir's file names when it grows past 5120 bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>

namespace roost::storage::quota {

struct Usage {
  std::int64_t bytes = 0;
  std::int64_t messages = 0;
};

// A maildirsize file's usage: the sum of its lines after the limits line.
// Absent when there is no limits line or the sums are negative or absurd
// (then the caller recounts).
std::optional<Usage> parse(std::string_view text);

Usage read(const std::filesystem::path& root, std::uint64_t bytes_limit, std::uint64_t messages_limit);
void add(const std::filesystem::path& root, std::int64_t bytes, std::int64_t messages);
// Counts every message of every folder and rewrites the file.
Usage recount(const std::filesystem::path& root, std::uint64_t bytes_limit, std::uint64_t messages_limit);

}  // namespace roost::storage::quota

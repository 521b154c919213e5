// Per-user usage in a Maildir++ `maildirsize` file (LIBRARY-FACTS §2), so
// that Dovecot and Courier read the same numbers:
//
//   <bytes>S,<count>C       limits (0: none)
//   <bytes> <count>         usage at the last recount, then one line per change
//
// Changes are appended (O_APPEND, one write each); the file is recounted
// from the maildir's file names when it grows past 5120 bytes.
//
// Limits an administrator set for one user (IMAP SETQUOTA) live apart, in
// `roost-quota` ("<bytes>S,<count>C"), because the limits line above is
// rewritten from the configuration at every recount (as Dovecot does).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace roost::storage::quota {

struct Usage {
  std::int64_t bytes = 0;
  std::int64_t messages = 0;
};

struct Limits {
  std::uint64_t bytes = 0;     // 0: none
  std::uint64_t messages = 0;  // 0: none
};

// The text of `roost-quota`, and back.
std::optional<Limits> parse_limits(std::string_view text);
std::string render_limits(const Limits& limits);

// The user's own limits; nullopt when none were set (or the file is not
// ours to read), and then the configured ones apply.
std::optional<Limits> read_limits(const std::filesystem::path& root);
// Replaces the user's own limits; nullopt goes back to the configured ones.
std::error_code write_limits(const std::filesystem::path& root, const std::optional<Limits>& limits);

// A maildirsize file's usage: the sum of its lines after the limits line.
// Absent when there is no limits line or the sums are negative or absurd
// (then the caller recounts).
std::optional<Usage> parse(std::string_view text);

// `limits` go into the limits line when the file is (re)written.
Usage read(const std::filesystem::path& root, const Limits& limits);
void add(const std::filesystem::path& root, std::int64_t bytes, std::int64_t messages);
// Counts every message of every folder and rewrites the file.
Usage recount(const std::filesystem::path& root, const Limits& limits);

}  // namespace roost::storage::quota

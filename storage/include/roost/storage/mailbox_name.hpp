// Folder names: what a client may call a folder, and how it is spelled on
// disk. Names are UTF-8 with '/' between levels ("Archive/2024"); INBOX is
// the root of the maildir and is matched case-insensitively. On disk a
// folder is the Maildir++ directory "." + levels joined by "." in IMAP
// modified UTF-7 (RFC 3501 §5.1.3), as Dovecot and Courier keep them.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace roost::storage {

inline constexpr char kHierarchySeparator = '/';

enum class NameError {
  empty,          // "" or an empty level ("a//b", "a/")
  bad_character,  // a control character, or '.' (the Maildir++ separator)
  bad_utf8,
  bad_mutf7,      // not canonical modified UTF-7
  too_long,
};
std::string_view describe(NameError error);

// Checks a UTF-8 folder name and returns its canonical form ("INBOX" for
// any spelling of inbox, also as the first level: "inbox/x" -> "INBOX/x").
std::expected<std::string, NameError> canonical_name(std::string_view utf8);

// RFC 3501 §5.1.3 modified UTF-7, both ways. Decoding accepts only the
// canonical encoding (what encoding the result gives back).
std::string encode_mutf7(std::string_view utf8);
std::expected<std::string, NameError> decode_mutf7(std::string_view mutf7);

// The directory name of a folder below the maildir root ("" for INBOX).
std::string directory_name(std::string_view canonical);
// The folder a directory name stands for, if it is one.
std::expected<std::string, NameError> name_from_directory(std::string_view directory);

bool is_inbox(std::string_view canonical);

}  // namespace roost::storage

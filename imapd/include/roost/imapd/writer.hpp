// Rendering IMAP data (RFC 9051 §4, §9): each value in the form the grammar
// allows for it, quoted where it can be and a literal where it must be.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roost::imap {

// string: quoted when it has no CR, LF, NUL, or (unless `utf8` — IMAP4rev2
// and UTF8=ACCEPT allow UTF-8 in quoted strings) byte above 0x7f, and is
// not long; else a literal. NUL cannot travel in either and is dropped.
void append_string(std::string& out, std::string_view value, bool utf8 = false);
// astring: an atom when the value is one, else as append_string.
void append_astring(std::string& out, std::string_view value, bool utf8 = false);
void append_nstring(std::string& out, const std::optional<std::string>& value, bool utf8 = false);
// A literal whatever the content ("{n}" CRLF bytes); `binary` makes it
// literal8 ("~{n}"), which may carry NUL (RFC 3516).
void append_literal(std::string& out, std::string_view bytes, bool binary = false);
// "(" flag *(SP flag) ")"
void append_list(std::string& out, const std::vector<std::string>& atoms);

// INTERNALDATE's date-time ("17-Jul-1996 02:44:25 +0000") in quotes, in UTC.
std::string date_time(std::int64_t seconds);

// Numbers as a compact sequence set ("1:3,7,9:10"), as UIDPLUS and ESEARCH
// return them. Order is kept: only ascending runs become ranges, so a list
// in sort order comes out as ESORT wants it (RFC 5267 §3.2: "5,3:4", never
// "4:3").
std::string compact_set(const std::vector<std::uint32_t>& numbers);
// " n" for each of `numbers` (SEARCH and SORT answers): written in place,
// as a 100,000-number answer is built on every SORT of a big folder.
void append_numbers(std::string& out, const std::vector<std::uint32_t>& numbers);

}  // namespace roost::imap

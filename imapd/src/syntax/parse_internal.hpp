// The per-command parsers shared between the files of the syntax library.
// Each starts right after the command name and leaves the cursor at the end
// of its arguments; parse_command() checks that nothing follows.
#pragma once

#include "cursor.hpp"
#include "roost/imapd/requests.hpp"

namespace roost::imap {

bool parse_search(Cursor& c, Search& out);
// "RETURN (...) SP" of SEARCH (RFC 4731) and SORT (RFC 5267 ESORT), when present.
bool parse_returns(Cursor& c, std::optional<SearchReturns>& out);
// partial-range (RFC 9394 §4): "a:b" or "-a:-b", nz-numbers.
bool parse_partial_range(Cursor& c, PartialRange& out);
// search-criteria of SORT and THREAD (RFC 5256): SP charset 1*(SP search-key).
bool parse_charset_and_keys(Cursor& c, std::string& charset, SearchNode& key);
bool parse_fetch(Cursor& c, Fetch& out);
// "(" fetch-att *(SP fetch-att) ")" (NOTIFY's MessageNew, RFC 5465 §8).
bool parse_fetch_atts(Cursor& c, std::vector<FetchItem>& out);
// "[" section-spec "]" of BODY (or, with `binary`, of BINARY: parts only).
bool parse_section(Cursor& c, Section& out, bool binary);

}  // namespace roost::imap

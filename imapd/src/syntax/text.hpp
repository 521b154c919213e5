// Character classes of RFC 9051 §9 and small text helpers for the syntax
// library.
#pragma once

#include <string>
#include <string_view>

#include "roost/core/ascii.hpp"

namespace roost::imap {

// atom-specials: "(" ")" "{" SP CTL list-wildcards quoted-specials resp-specials.
inline bool is_atom_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case '%': case '*': case '"': case '\\': case ']': return false;
    default: return true;
  }
}
inline bool is_astring_char(unsigned char c) { return is_atom_char(c) || c == ']'; }
inline bool is_list_char(unsigned char c) { return is_atom_char(c) || c == '%' || c == '*' || c == ']'; }

// tag = 1*<any ASTRING-CHAR except "+">
inline bool valid_tag(std::string_view tag) {
  if (tag.empty()) return false;
  for (unsigned char c : tag)
    if (!is_astring_char(c) || c == '+') return false;
  return true;
}

}  // namespace roost::imap

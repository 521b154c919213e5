// Character classes of RFC 9051 §9 and small text helpers for the syntax
// library.
#pragma once

#include <string>
#include <string_view>

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

inline char upper_ascii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper_ascii(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper_ascii(a[i]) != upper_ascii(b[i])) return false;
  return true;
}

}  // namespace roost::imap

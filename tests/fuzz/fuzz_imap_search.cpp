// SEARCH keys, the recursive grammar of IMAP (NOT, OR, FUZZY and
// parentheses, RFC 9051 §6.4.4, RFC 6203): the input is the argument of a
// SEARCH, SORT or THREAD command (chosen by its first byte), parsed whole.
// However deep the input nests, parsing and destroying what it built stay
// within the stack; every error says what was wrong.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "roost/imapd/syntax.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const char* const prefixes[] = {"a SEARCH ", "a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 ",
                                         "a SORT (DATE) UTF-8 ", "a THREAD REFERENCES UTF-8 "};
  roost::imap::RawCommand raw;
  raw.text = prefixes[data[0] % 4];
  raw.text.append(input);
  auto parsed = roost::imap::parse_command(raw);
  if (auto* e = std::get_if<roost::imap::SyntaxError>(&parsed); e && e->text.empty()) std::abort();
  return 0;
}

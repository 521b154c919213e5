// LMTP command syntax (RFC 2033, which is SMTP's, RFC 5321 §4.1, plus the
// parameters of RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3030 BDAT/BINARYMIME,
// RFC 6531 SMTPUTF8 and RFC 3461 DSN). Parsing turns one command line into a
// typed command or a precise error; it knows nothing of users or storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace roost::lmtp {

enum class Body { seven_bit, eight_bit_mime, binary_mime };

struct Lhlo {
  std::string domain;
};
struct Mail {
  std::string reverse_path;  // without <>; empty for the null sender <>
  std::optional<std::uint64_t> size;
  Body body = Body::seven_bit;
  bool smtputf8 = false;
  std::string ret;    // DSN RET: FULL or HDRS, upper case; empty if absent
  std::string envid;  // DSN ENVID, xtext-decoded
};
struct Rcpt {
  std::string forward_path;  // without <>
  std::string notify;        // DSN NOTIFY, upper case; empty if absent
  std::string orcpt;         // DSN ORCPT, as given (addr-type;xtext)
};
struct Data {};
struct Bdat {
  std::uint64_t size = 0;
  bool last = false;
};
struct Rset {};
struct Noop {};
struct Quit {};
struct Vrfy {
  std::string argument;
};
struct Help {};
struct StartTls {};

using Command = std::variant<Lhlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Help, StartTls>;

struct SyntaxError {
  int code = 500;           // 500 unknown command, 501 bad arguments, 555 bad parameter
  std::string enhanced;     // "5.5.2"
  std::string text;
  std::string reply() const;  // "501 5.5.4 text"
};

// One command line without its CRLF. `smtputf8` allows UTF-8 in addresses.
std::variant<Command, SyntaxError> parse_command(std::string_view line);

// RFC 3461 §4: xtext, with "+HH" escapes.
std::optional<std::string> decode_xtext(std::string_view text);

}  // namespace roost::lmtp

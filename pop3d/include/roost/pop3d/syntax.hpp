// POP3 commands as typed values (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
// RFC 5034 AUTH, RFC 6856 UTF8 and LANG). Parsing never touches the socket: the
// service reads a line and hands it here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace roost::pop3 {

struct User { std::string name; };
struct Pass { std::string password; };  // the rest of the line: it may hold spaces (RFC 1939 §7)
struct Apop {};                         // recognised, to be refused precisely
struct Stat {};
struct List { std::optional<std::uint32_t> message; };
struct Retr { std::uint32_t message = 0; };
struct Dele { std::uint32_t message = 0; };
struct Noop {};
struct Rset {};
struct Quit {};
struct Top { std::uint32_t message = 0; std::uint64_t lines = 0; };
struct Uidl { std::optional<std::uint32_t> message; };
struct Capa {};
// AUTH without a mechanism lists the mechanisms (as many clients expect);
// `initial` is the initial response as sent: base64, or "=" for empty.
struct Auth {
  std::string mechanism;
  std::optional<std::string> initial;
};
struct Stls {};
struct Utf8 {};
// LANG alone lists the languages; with a basic language range (RFC 4647
// §2.1: "*", or 1*8ALPHA *("-" 1*8alphanum)) it picks one.
struct Lang { std::optional<std::string> range; };

using Command = std::variant<User, Pass, Apop, Stat, List, Retr, Dele, Noop, Rset, Quit, Top, Uidl, Capa, Auth,
                             Stls, Utf8, Lang>;

// What -ERR says about a line that is not a valid command.
struct SyntaxError {
  std::string text;
};

std::variant<Command, SyntaxError> parse_command(std::string_view line);

}  // namespace roost::pop3

#include "roost/pop3d/syntax.hpp"

#include <charconv>
#include <vector>

#include "roost/core/ascii.hpp"

namespace roost::pop3 {
namespace {

// Arguments are separated by single spaces (RFC 1939 §3); a client that
// sends several is forgiven, as other servers do.
std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

// A decimal number without sign or leading '+'.
template <class T>
std::optional<T> number(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Message numbers start at 1 (RFC 1939 §5).
std::optional<std::uint32_t> message_number(std::string_view text) {
  auto n = number<std::uint32_t>(text);
  if (!n || *n == 0) return std::nullopt;
  return n;
}

bool has_control(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// RFC 4647 §2.1: language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*".
bool basic_language_range(std::string_view text) {
  if (text == "*") return true;
  std::size_t start = 0;
  for (bool first = true;; first = false) {
    std::size_t end = text.find('-', start);
    std::string_view subtag = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (subtag.empty() || subtag.size() > 8) return false;
    for (char c : subtag) {
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!alpha && (first || c < '0' || c > '9')) return false;
    }
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace

std::variant<Command, SyntaxError> parse_command(std::string_view line) {
  if (has_control(line)) return SyntaxError{"Control characters in the command"};
  std::size_t space = line.find(' ');
  std::string_view keyword = line.substr(0, space);
  std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  if (keyword.empty()) return SyntaxError{"Empty command"};
  auto args = split(rest);

  auto no_args = [&](Command c) -> std::variant<Command, SyntaxError> {
    if (!args.empty()) return SyntaxError{std::string(keyword) + " takes no arguments"};
    return c;
  };
  auto optional_message = [&](auto c) -> std::variant<Command, SyntaxError> {
    if (args.size() > 1) return SyntaxError{"Too many arguments"};
    if (args.size() == 1) {
      c.message = message_number(args[0]);
      if (!c.message) return SyntaxError{"Invalid message number"};
    }
    return c;
  };
  auto one_message = [&](auto c) -> std::variant<Command, SyntaxError> {
    if (args.size() != 1) return SyntaxError{std::string(keyword) + " takes a message number"};
    auto n = message_number(args[0]);
    if (!n) return SyntaxError{"Invalid message number"};
    c.message = *n;
    return c;
  };

  if (ascii_iequals(keyword, "USER")) {
    if (rest.empty()) return SyntaxError{"USER takes a name"};
    return User{std::string(rest)};
  }
  if (ascii_iequals(keyword, "PASS")) {
    if (rest.empty()) return SyntaxError{"PASS takes a password"};
    return Pass{std::string(rest)};
  }
  if (ascii_iequals(keyword, "APOP")) return Apop{};
  if (ascii_iequals(keyword, "STAT")) return no_args(Stat{});
  if (ascii_iequals(keyword, "LIST")) return optional_message(List{});
  if (ascii_iequals(keyword, "UIDL")) return optional_message(Uidl{});
  if (ascii_iequals(keyword, "RETR")) return one_message(Retr{});
  if (ascii_iequals(keyword, "DELE")) return one_message(Dele{});
  if (ascii_iequals(keyword, "NOOP")) return no_args(Noop{});
  if (ascii_iequals(keyword, "RSET")) return no_args(Rset{});
  if (ascii_iequals(keyword, "QUIT")) return no_args(Quit{});
  if (ascii_iequals(keyword, "CAPA")) return no_args(Capa{});
  if (ascii_iequals(keyword, "STLS")) return no_args(Stls{});
  if (ascii_iequals(keyword, "UTF8")) return no_args(Utf8{});
  if (ascii_iequals(keyword, "LANG")) {
    if (args.size() > 1) return SyntaxError{"LANG takes one language range"};
    if (args.empty()) return Lang{};
    if (!basic_language_range(args[0])) return SyntaxError{"Invalid language range"};
    return Lang{std::string(args[0])};
  }
  if (ascii_iequals(keyword, "TOP")) {
    if (args.size() != 2) return SyntaxError{"TOP takes a message number and a number of lines"};
    auto n = message_number(args[0]);
    if (!n) return SyntaxError{"Invalid message number"};
    auto lines = number<std::uint64_t>(args[1]);
    if (!lines) return SyntaxError{"Invalid number of lines"};
    return Top{*n, *lines};
  }
  if (ascii_iequals(keyword, "AUTH")) {
    if (args.size() > 2) return SyntaxError{"AUTH takes a mechanism and an optional initial response"};
    Auth auth;
    if (!args.empty()) auth.mechanism = std::string(args[0]);
    if (args.size() == 2) auth.initial = std::string(args[1]);
    return auth;
  }
  return SyntaxError{"Unknown command"};
}

}  // namespace roost::pop3

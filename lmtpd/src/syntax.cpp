#include "roost/lmtpd/syntax.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

#include "roost/core/ascii.hpp"

namespace roost::lmtp {

namespace {

SyntaxError error(int code, std::string enhanced, std::string text) {
  return SyntaxError{code, std::move(enhanced), std::move(text)};
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// "<path>" with a path free of spaces, controls and angle brackets inside;
// source routes (RFC 5321 §4.1.2 "@a,@b:") are accepted and dropped.
std::optional<std::string> path(std::string_view text, bool allow_empty) {
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return std::nullopt;
  std::string_view inner = text.substr(1, text.size() - 2);
  if (inner.empty()) return allow_empty ? std::optional<std::string>(std::string()) : std::nullopt;
  if (inner.front() == '@') {
    std::size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    inner.remove_prefix(colon + 1);
  }
  for (char c : inner) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>' || c == ' ') return std::nullopt;
  }
  std::size_t at = inner.rfind('@');
  if (at == 0 || (at != std::string_view::npos && at + 1 == inner.size())) return std::nullopt;
  return std::string(inner);
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "FROM:<path> params" or "TO:<path> params": the path and the parameters.
std::optional<std::pair<std::string_view, std::vector<std::string_view>>> path_and_params(std::string_view args,
                                                                                        std::string_view keyword) {
  if (args.size() < keyword.size() || !ascii_iequals(args.substr(0, keyword.size()), keyword)) return std::nullopt;
  args.remove_prefix(keyword.size());
  while (!args.empty() && args.front() == ' ') args.remove_prefix(1);  // tolerated: "FROM: <a@b>"
  auto words = split(args);
  if (words.empty()) return std::nullopt;
  std::string_view first = words.front();
  words.erase(words.begin());
  return std::pair{first, words};
}

std::variant<Command, SyntaxError> parse_mail(std::string_view args) {
  auto parts = path_and_params(args, "FROM:");
  if (!parts) return error(501, "5.5.4", "syntax: MAIL FROM:<address> [parameters]");
  auto reverse = path(parts->first, true);
  if (!reverse) return error(501, "5.1.7", "bad sender address syntax");
  Mail mail;
  mail.reverse_path = *reverse;
  for (auto param : parts->second) {
    std::size_t eq = param.find('=');
    std::string key = ascii_uppercase(param.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    bool has_value = eq != std::string_view::npos;
    if (key == "SIZE" && has_value) {
      auto n = number(value);
      if (!n) return error(501, "5.5.4", "SIZE needs a number");
      mail.size = n;
    } else if (key == "BODY" && has_value) {
      std::string v = ascii_uppercase(value);
      if (v == "7BIT") mail.body = Body::seven_bit;
      else if (v == "8BITMIME") mail.body = Body::eight_bit_mime;
      else if (v == "BINARYMIME") mail.body = Body::binary_mime;
      else return error(501, "5.5.4", "BODY must be 7BIT, 8BITMIME or BINARYMIME");
    } else if (key == "SMTPUTF8" && !has_value) {
      mail.smtputf8 = true;
    } else if (key == "RET" && has_value) {
      std::string v = ascii_uppercase(value);
      if (v != "FULL" && v != "HDRS") return error(501, "5.5.4", "RET must be FULL or HDRS");
      mail.ret = v;
    } else if (key == "ENVID" && has_value) {
      auto decoded = decode_xtext(value);
      if (!decoded || decoded->size() > 100) return error(501, "5.5.4", "ENVID must be xtext of at most 100 characters");
      mail.envid = *decoded;
    } else {
      return error(555, "5.5.4", "unknown MAIL parameter " + key);
    }
  }
  return mail;
}

std::variant<Command, SyntaxError> parse_rcpt(std::string_view args) {
  auto parts = path_and_params(args, "TO:");
  if (!parts) return error(501, "5.5.4", "syntax: RCPT TO:<address> [parameters]");
  auto forward = path(parts->first, false);
  if (!forward) return error(501, "5.1.3", "bad recipient address syntax");
  Rcpt rcpt;
  rcpt.forward_path = *forward;
  for (auto param : parts->second) {
    std::size_t eq = param.find('=');
    std::string key = ascii_uppercase(param.substr(0, eq));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (key == "NOTIFY" && !value.empty()) {
      std::string v = ascii_uppercase(value);
      // RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY.
      bool ok = v == "NEVER";
      if (!ok) {
        ok = true;
        std::size_t start = 0;
        while (start <= v.size()) {
          std::size_t comma = v.find(',', start);
          std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (item != "SUCCESS" && item != "FAILURE" && item != "DELAY") ok = false;
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      if (!ok) return error(501, "5.5.4", "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY");
      rcpt.notify = v;
    } else if (key == "ORCPT" && !value.empty()) {
      std::size_t semi = value.find(';');
      if (semi == std::string_view::npos || semi == 0 || !decode_xtext(value.substr(semi + 1)))
        return error(501, "5.5.4", "ORCPT must be addr-type;xtext");
      rcpt.orcpt = std::string(value);
    } else {
      return error(555, "5.5.4", "unknown RCPT parameter " + key);
    }
  }
  return rcpt;
}

}  // namespace

std::string SyntaxError::reply() const { return std::to_string(code) + " " + enhanced + " " + text; }

std::optional<std::string> decode_xtext(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 33 || c > 126 || c == '=') return std::nullopt;
    if (c != '+') {
      out += static_cast<char>(c);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // "+" needs two hex digits
    auto hex = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::variant<Command, SyntaxError> parse_command(std::string_view line) {
  std::size_t space = line.find(' ');
  std::string verb = ascii_uppercase(line.substr(0, space));
  std::string_view args = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  auto no_args = [&](Command command) -> std::variant<Command, SyntaxError> {
    if (!split(args).empty()) return error(501, "5.5.4", verb + " takes no arguments");
    return command;
  };
  if (verb == "LHLO") {
    auto words = split(args);
    if (words.size() != 1) return error(501, "5.5.4", "syntax: LHLO domain");
    return Lhlo{std::string(words[0])};
  }
  if (verb == "HELO" || verb == "EHLO")
    return error(500, "5.5.1", "this is LMTP: use LHLO (RFC 2033)");
  if (verb == "MAIL") return parse_mail(args);
  if (verb == "RCPT") return parse_rcpt(args);
  if (verb == "DATA") return no_args(Data{});
  if (verb == "BDAT") {
    auto words = split(args);
    if (words.empty() || words.size() > 2) return error(501, "5.5.4", "syntax: BDAT size [LAST]");
    auto size = number(words[0]);
    if (!size) return error(501, "5.5.4", "BDAT needs a chunk size");
    if (words.size() == 2 && ascii_uppercase(words[1]) != "LAST") return error(501, "5.5.4", "syntax: BDAT size [LAST]");
    return Bdat{*size, words.size() == 2};
  }
  if (verb == "RSET") return no_args(Rset{});
  if (verb == "NOOP") return Noop{};  // RFC 5321 §4.1.1.9: a string argument is ignored
  if (verb == "QUIT") return no_args(Quit{});
  if (verb == "VRFY") {
    if (split(args).empty()) return error(501, "5.5.4", "syntax: VRFY string");
    return Vrfy{std::string(args)};
  }
  if (verb == "HELP") return Help{};
  if (verb == "STARTTLS") return no_args(StartTls{});
  return error(500, "5.5.1", "unknown command");
}

}  // namespace roost::lmtp

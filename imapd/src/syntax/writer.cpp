#include "roost/imapd/writer.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "text.hpp"

namespace roost::imap {
namespace {

// Longer strings go as literals: easier on clients' line buffers.
constexpr std::size_t kMaxQuoted = 1024;

bool quotable(std::string_view s, bool utf8) {
  if (s.size() > kMaxQuoted) return false;
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
    if (c >= 0x80 && !utf8) return false;
  }
  return true;
}

bool is_atom(std::string_view s) {
  if (s.empty() || ascii_iequals(s, "NIL")) return false;
  for (unsigned char c : s)
    if (!is_astring_char(c)) return false;
  return true;
}

}  // namespace

void append_literal(std::string& out, std::string_view bytes, bool binary) {
  if (binary) out += '~';
  out += '{';
  out += std::to_string(bytes.size());
  out += "}\r\n";
  const std::size_t start = out.size();
  out.append(bytes);
  // An ordinary literal holds no NUL (RFC 9051 §9: CHAR8 is %x01-ff); a
  // message that has one is sent with 0x80 in its place, as Dovecot does,
  // and byte for byte only through BINARY's literal8.
  if (!binary) std::replace(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), '\0', '\x80');
}

void append_string(std::string& out, std::string_view value, bool utf8) {
  std::string without_nul;
  if (value.find('\0') != std::string_view::npos) {
    without_nul.assign(value);
    std::erase(without_nul, '\0');
    value = without_nul;
  }
  if (!quotable(value, utf8)) {
    append_literal(out, value);
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_astring(std::string& out, std::string_view value, bool utf8) {
  if (is_atom(value)) {
    out.append(value);
    return;
  }
  append_string(out, value, utf8);
}

void append_nstring(std::string& out, const std::optional<std::string>& value, bool utf8) {
  if (!value) {
    out += "NIL";
    return;
  }
  append_string(out, *value, utf8);
}

void append_list(std::string& out, const std::vector<std::string>& atoms) {
  out += '(';
  for (std::size_t i = 0; i < atoms.size(); ++i) {
    if (i > 0) out += ' ';
    out += atoms[i];
  }
  out += ')';
}

std::string date_time(std::int64_t seconds) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "\"%d-%b-%Y %H:%M:%S +0000\"", &tm);
  return buf;
}

std::string compact_set(const std::vector<std::uint32_t>& numbers) {
  // At most 10 digits, a ':' and 10 more, and a ',' per run.
  std::string out(numbers.size() * 22, '\0');
  char* at = out.data();
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    if (i > 0) *at++ = ',';
    at = std::to_chars(at, at + 10, numbers[i]).ptr;
    if (j > i) {
      *at++ = ':';
      at = std::to_chars(at, at + 10, numbers[j]).ptr;
    }
    i = j + 1;
  }
  out.resize(static_cast<std::size_t>(at - out.data()));
  return out;
}

void append_numbers(std::string& out, const std::vector<std::uint32_t>& numbers) {
  const std::size_t start = out.size();
  out.resize(start + numbers.size() * 11);
  char* at = out.data() + start;
  for (auto n : numbers) {
    *at++ = ' ';
    at = std::to_chars(at, at + 10, n).ptr;
  }
  out.resize(static_cast<std::size_t>(at - out.data()));
}

}  // namespace roost::imap

#include "cursor.hpp"

#include <chrono>

#include "roost/core/utf8.hpp"
#include "text.hpp"

namespace roost::imap {

bool Cursor::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool Cursor::eat(char c) {
  if (!peek(c)) return false;
  ++pos_;
  return true;
}

bool Cursor::expect(char c, std::string_view what) {
  if (eat(c)) return true;
  return fail("Expected " + std::string(what));
}

bool Cursor::space() {
  if (eat(' ')) return true;
  return fail(at_end() ? "Missing arguments" : "Expected a single space");
}

std::string Cursor::peek_word(std::size_t offset) const {
  const std::size_t start = std::min(pos_ + offset, raw_.text.size());
  std::size_t end = start;
  while (end < raw_.text.size()) {
    unsigned char c = static_cast<unsigned char>(raw_.text[end]);
    if (!is_atom_char(c) || c == '[' || c == '<') break;
    ++end;
  }
  return ascii_uppercase(std::string_view(raw_.text).substr(start, end - start));
}

bool Cursor::eat_word(std::string_view word) {
  if (raw_.text.size() - pos_ < word.size()) return false;
  if (!ascii_iequals(std::string_view(raw_.text).substr(pos_, word.size()), word)) return false;
  std::size_t end = pos_ + word.size();
  if (end < raw_.text.size()) {
    char next = raw_.text[end];
    if (is_atom_char(static_cast<unsigned char>(next)) && next != '[' && next != '<') return false;
  }
  pos_ = end;
  return true;
}

bool Cursor::finish() {
  if (failed()) return false;
  if (!at_end()) return fail("Unexpected characters at the end of the command");
  if (next_literal_ != raw_.literals.size()) return fail("Unexpected literal");
  return true;
}

bool Cursor::open_paren() {
  if (!eat('(')) return false;
  if (++depth_ > max_depth_) return fail("Too deeply nested");
  return true;
}

bool Cursor::enter() {
  if (++depth_ > max_depth_) return fail("Too deeply nested");
  return true;
}

bool Cursor::close_paren() {
  if (!expect(')', "')'")) return false;
  --depth_;
  return true;
}

std::optional<std::string> Cursor::atom() {
  std::size_t start = pos_;
  while (pos_ < raw_.text.size() && is_atom_char(static_cast<unsigned char>(raw_.text[pos_]))) ++pos_;
  if (pos_ == start) {
    fail("Expected an atom");
    return std::nullopt;
  }
  return raw_.text.substr(start, pos_ - start);
}

std::optional<std::string> Cursor::quoted() {
  ++pos_;  // the opening quote
  std::string out;
  while (pos_ < raw_.text.size()) {
    char c = raw_.text[pos_++];
    if (c == '"') {
      // 8-bit octets only as UTF-8 (RFC 6855 §3, RFC 9051 §4.3).
      if (!is_valid_utf8(out)) {
        fail("Invalid UTF-8 in a quoted string");
        return std::nullopt;
      }
      return out;
    }
    if (c == '\r' || c == '\n' || c == '\0') break;
    if (c == '\\') {
      if (pos_ >= raw_.text.size() || (raw_.text[pos_] != '"' && raw_.text[pos_] != '\\')) {
        fail("Only \\\" and \\\\ may be escaped in a quoted string");
        return std::nullopt;
      }
      c = raw_.text[pos_++];
    }
    out += c;
  }
  fail("Unterminated quoted string");
  return std::nullopt;
}

bool Cursor::at_literal() const { return peek('{') || (peek('~') && pos_ + 1 < raw_.text.size() && raw_.text[pos_ + 1] == '{'); }

std::optional<std::string> Cursor::literal(bool allow_binary, bool* binary) {
  bool is_binary = eat('~');
  if (is_binary && !allow_binary) {
    fail("A literal8 is not allowed here");
    return std::nullopt;
  }
  if (!eat('{')) {
    fail("Expected a literal");
    return std::nullopt;
  }
  std::uint64_t size = 0;
  std::size_t digits = 0;
  while (pos_ < raw_.text.size() && raw_.text[pos_] >= '0' && raw_.text[pos_] <= '9' && digits < 19) {
    size = size * 10 + static_cast<std::uint64_t>(raw_.text[pos_++] - '0');
    ++digits;
  }
  eat('+');
  if (digits == 0 || !eat('}') || !eat('\r') || !eat('\n')) {
    fail("Malformed literal");
    return std::nullopt;
  }
  if (next_literal_ >= raw_.literals.size() || raw_.literals[next_literal_].size() != size) {
    fail("Literal data missing");
    return std::nullopt;
  }
  if (binary != nullptr) *binary = is_binary;
  const std::string& bytes = raw_.literals[next_literal_++];
  if (!is_binary && bytes.find('\0') != std::string::npos) {
    fail("NUL in a literal; use literal8 (~{n})");
    return std::nullopt;
  }
  return bytes;
}

std::optional<std::string> Cursor::string() {
  if (peek('"')) return quoted();
  if (at_literal()) return literal(false);
  fail("Expected a string");
  return std::nullopt;
}

std::optional<std::string> Cursor::astring() {
  if (peek('"') || at_literal()) return string();
  std::size_t start = pos_;
  while (pos_ < raw_.text.size() && is_astring_char(static_cast<unsigned char>(raw_.text[pos_]))) ++pos_;
  if (pos_ == start) {
    fail(at_end() ? "Missing arguments" : "Expected an atom or a string");
    return std::nullopt;
  }
  return raw_.text.substr(start, pos_ - start);
}

std::optional<std::optional<std::string>> Cursor::nstring() {
  if (eat_word("NIL")) return std::optional<std::string>();
  auto s = string();
  if (!s) return std::nullopt;
  return std::optional<std::string>(std::move(*s));
}

std::optional<std::string> Cursor::list_mailbox() {
  if (peek('"') || at_literal()) return string();
  std::size_t start = pos_;
  while (pos_ < raw_.text.size() && is_list_char(static_cast<unsigned char>(raw_.text[pos_]))) ++pos_;
  if (pos_ == start) {
    fail("Expected a mailbox pattern");
    return std::nullopt;
  }
  return raw_.text.substr(start, pos_ - start);
}

std::optional<std::uint64_t> Cursor::number() {
  std::uint64_t value = 0;
  std::size_t start = pos_;
  while (pos_ < raw_.text.size() && raw_.text[pos_] >= '0' && raw_.text[pos_] <= '9') {
    if (pos_ - start >= 19) {
      fail("Number too large");
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(raw_.text[pos_++] - '0');
  }
  if (pos_ == start) {
    fail("Expected a number");
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint32_t> Cursor::nz_number() {
  auto n = number();
  if (!n) return std::nullopt;
  if (*n == 0 || *n > 0xffffffffu) {
    fail(*n == 0 ? "Zero is not a valid number here" : "Number too large");
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*n);
}

std::optional<SequenceSet> Cursor::sequence_set() {
  SequenceSet set;
  if (eat('$')) {
    set.saved = true;
    return set;
  }
  auto seq_number = [&]() -> std::optional<std::uint64_t> {
    if (eat('*')) return kStar;
    if (!peek_digit()) return std::nullopt;
    return nz_number();
  };
  do {
    auto first = seq_number();
    if (!first) {
      fail("Invalid sequence set");
      return std::nullopt;
    }
    SeqRange range{*first, *first};
    if (eat(':')) {
      auto last = seq_number();
      if (!last) {
        fail("Invalid sequence set");
        return std::nullopt;
      }
      range.last = *last;
    }
    set.ranges.push_back(range);
  } while (eat(','));
  return set;
}

std::optional<std::string> Cursor::flag() {
  if (eat('\\')) {
    if (eat('*')) return std::string("\\*");
    auto name = atom();
    if (!name) {
      fail("Invalid flag");
      return std::nullopt;
    }
    return "\\" + *name;
  }
  auto keyword = atom();
  if (!keyword) fail("Invalid flag");
  return keyword;
}

std::optional<std::vector<std::string>> Cursor::flag_list() {
  if (!open_paren()) {
    fail("Expected a flag list");
    return std::nullopt;
  }
  std::vector<std::string> flags;
  if (!peek(')')) {
    do {
      auto f = flag();
      if (!f) return std::nullopt;
      flags.push_back(std::move(*f));
    } while (eat(' '));
  }
  if (!close_paren()) return std::nullopt;
  return flags;
}

unsigned month_number(std::string_view name) {
  static constexpr std::string_view months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  for (unsigned i = 0; i < 12; ++i)
    if (ascii_iequals(name, months[i])) return i + 1;
  return 0;
}

std::optional<std::int64_t> days_from_civil(int year, unsigned month, unsigned day) {
  std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days{date}.time_since_epoch().count();
}

std::optional<std::int64_t> Cursor::date() {
  bool quoted_date = eat('"');
  auto digits = [&](std::size_t min, std::size_t max) -> std::optional<unsigned> {
    unsigned value = 0;
    std::size_t n = 0;
    while (n < max && pos_ < raw_.text.size() && raw_.text[pos_] >= '0' && raw_.text[pos_] <= '9') {
      value = value * 10 + static_cast<unsigned>(raw_.text[pos_++] - '0');
      ++n;
    }
    if (n < min) return std::nullopt;
    return value;
  };
  auto day = digits(1, 2);
  std::optional<std::int64_t> days;
  if (day && eat('-') && raw_.text.size() - pos_ >= 3) {
    unsigned month = month_number(std::string_view(raw_.text).substr(pos_, 3));
    pos_ += 3;
    if (month != 0 && eat('-')) {
      if (auto year = digits(4, 4)) days = days_from_civil(static_cast<int>(*year), month, *day);
    }
  }
  if (!days || (quoted_date && !eat('"'))) {
    fail("Invalid date (expected d-Mon-yyyy)");
    return std::nullopt;
  }
  return days;
}

std::optional<std::int64_t> Cursor::date_time() {
  if (!peek('"')) {
    fail("Expected a date-time");
    return std::nullopt;
  }
  auto text = quoted();
  if (!text) return std::nullopt;
  auto t = parse_date_time(*text);
  if (!t) fail("Invalid date-time (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")");
  return t;
}

// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
std::optional<std::int64_t> parse_date_time(std::string_view s) {
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);  // date-day-fixed = (SP DIGIT) / 2DIGIT
  auto num = [&](std::size_t n) -> std::optional<int> {
    if (s.size() < n) return std::nullopt;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    s.remove_prefix(n);
    return v;
  };
  auto lit = [&](char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
  };
  std::optional<int> day = (s.size() > 1 && s[1] == '-') ? num(1) : num(2);
  if (!day || !lit('-') || s.size() < 3) return std::nullopt;
  unsigned month = month_number(s.substr(0, 3));
  s.remove_prefix(3);
  if (month == 0 || !lit('-')) return std::nullopt;
  auto year = num(4);
  if (!year || !lit(' ')) return std::nullopt;
  auto hour = num(2);
  if (!hour || !lit(':')) return std::nullopt;
  auto minute = num(2);
  if (!minute || !lit(':')) return std::nullopt;
  auto second = num(2);
  if (!second || !lit(' ') || s.empty()) return std::nullopt;
  char sign = s.front();
  s.remove_prefix(1);
  auto zone = num(4);
  if ((sign != '+' && sign != '-') || !zone || !s.empty()) return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60 || *zone % 100 > 59) return std::nullopt;
  auto days = days_from_civil(*year, month, static_cast<unsigned>(*day));
  if (!days) return std::nullopt;
  std::int64_t offset = (*zone / 100 * 60 + *zone % 100) * 60;
  if (sign == '-') offset = -offset;
  return *days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

}  // namespace roost::imap

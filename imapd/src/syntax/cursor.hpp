// The tokens of RFC 9051 §9 read from a complete RawCommand: atoms,
// strings (quoted or literal), numbers, sequence sets, flags, dates, with
// nesting bounded. Every reader returns nullopt/false on a mismatch and
// records the first error for the BAD reply.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/imapd/requests.hpp"
#include "roost/imapd/syntax.hpp"

namespace roost::imap {

class Cursor {
 public:
  explicit Cursor(const RawCommand& raw, unsigned max_depth = 32) : raw_(raw), max_depth_(max_depth) {}

  // Records `message` (the first one wins) and returns false.
  bool fail(std::string message);
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  void skip(std::size_t n) { pos_ = std::min(pos_ + n, raw_.text.size()); }
  bool at_end() const { return pos_ >= raw_.text.size(); }
  bool peek(char c) const { return pos_ < raw_.text.size() && raw_.text[pos_] == c; }
  bool peek_digit() const { return pos_ < raw_.text.size() && raw_.text[pos_] >= '0' && raw_.text[pos_] <= '9'; }
  bool eat(char c);
  bool expect(char c, std::string_view what);
  // Exactly one space.
  bool space();
  // A case-insensitive word that ends where atom characters end.
  bool eat_word(std::string_view word);
  // The next atom-like word (ATOM-CHAR and '.', '[' ...), upper case, without
  // consuming it; `offset` characters ahead.
  std::string peek_word(std::size_t offset = 0) const;
  // Every literal was used and nothing follows.
  bool finish();

  bool open_paren();
  bool close_paren();
  // One level of a recursive grammar that has no parentheses (SEARCH's NOT,
  // OR and FUZZY): counted against the same depth as parentheses, so that
  // no client chooses how deep the parser, the evaluation or the destructor
  // of what it builds recurse (DESIGN invariant 8).
  bool enter();
  void leave() { --depth_; }

  std::optional<std::string> atom();
  std::optional<std::string> astring();
  std::optional<std::string> string();  // quoted or literal
  std::optional<std::optional<std::string>> nstring();
  std::optional<std::string> list_mailbox();  // list-char+ or string
  // A literal, with `binary` set for literal8 (only where `allow_binary`).
  std::optional<std::string> literal(bool allow_binary, bool* binary = nullptr);
  bool at_literal() const;

  std::optional<std::uint64_t> number();
  std::optional<std::uint32_t> nz_number();
  std::optional<SequenceSet> sequence_set();
  std::optional<std::string> flag();
  std::optional<std::vector<std::string>> flag_list();
  // date = date-text / DQUOTE date-text DQUOTE, as days since 1970.
  std::optional<std::int64_t> date();
  // date-time in quotes, as seconds since 1970.
  std::optional<std::int64_t> date_time();

 private:
  std::optional<std::string> quoted();

  const RawCommand& raw_;
  unsigned max_depth_;
  std::size_t pos_ = 0;
  std::size_t next_literal_ = 0;
  unsigned depth_ = 0;
  std::string error_;
};

// Days since 1970-01-01 of a civil date; nullopt when it is not one.
std::optional<std::int64_t> days_from_civil(int year, unsigned month, unsigned day);
// "Jan".."Dec" (any case) as 1..12; 0 when not a month.
unsigned month_number(std::string_view name);

}  // namespace roost::imap

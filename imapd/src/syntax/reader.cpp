#include <algorithm>
#include <optional>

#include "roost/imapd/syntax.hpp"
#include "text.hpp"

namespace roost::imap {
namespace {

// The literal a line announces at its end: "{n}", "{n+}" or "~{n}".
std::optional<CommandReader::Literal> literal_marker(std::string_view line) {
  if (!line.ends_with('}')) return std::nullopt;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inside = line.substr(open + 1, line.size() - open - 2);
  CommandReader::Literal literal;
  if (inside.ends_with('+')) {
    literal.synchronizing = false;
    inside.remove_suffix(1);
  }
  if (inside.empty() || inside.size() > 19) return std::nullopt;
  std::uint64_t size = 0;
  for (char c : inside) {
    if (c < '0' || c > '9') return std::nullopt;
    size = size * 10 + static_cast<std::uint64_t>(c - '0');
  }
  literal.size = size;
  literal.binary = open > 0 && line[open - 1] == '~';
  return literal;
}

}  // namespace

CommandReader::Next CommandReader::refuse(std::string text, bool close) {
  response_ = (tag_.empty() ? std::string("*") : tag_) + " " + text + "\r\n";
  if (close) response_ += "* BYE " + text.substr(text.find(' ') + 1) + "\r\n";
  if (!skipping_) take();
  return close ? Next::close : Next::refused;
}

CommandReader::Next CommandReader::add_line(std::string_view line) {
  if (!started_) {
    started_ = true;
    response_.clear();
    std::size_t space = line.find(' ');
    std::string_view tag = line.substr(0, space);
    tag_ = valid_tag(tag) ? std::string(tag) : std::string();
    std::string_view rest = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    std::string_view verb = rest.substr(0, rest.find(' '));
    if (ascii_iequals(verb, "UID")) {
      rest.remove_prefix(std::min(rest.size(), verb.size() + 1));
      verb = rest.substr(0, rest.find(' '));
    }
    // Messages come in APPEND and REPLACE (RFC 8508): APPENDLIMIT governs them.
    append_ = ascii_iequals(verb, "APPEND") || ascii_iequals(verb, "REPLACE");
    if (auto refusal = gate_ ? gate_(verb) : std::nullopt) {
      // Not allowed now: no literal of it is taken; one already on its way
      // is dropped if it is small, else the connection ends.
      auto marker = literal_marker(line);
      if (!marker || marker->synchronizing) return refuse(std::move(*refusal), false);
      if (marker->size > limits_.max_append_literal) return refuse("BAD [TOOBIG] Literal too large", true);
      response_ = (tag_.empty() ? std::string("*") : tag_) + " " + *refusal + "\r\n";
      skipping_ = true;
      literal_ = *marker;
      return Next::discard;
    }
  }
  auto marker = literal_marker(line);
  if (skipping_) {
    // The rest of a command already refused: drop it, and any
    // non-synchronizing literal in it (a synchronizing one never comes).
    if (marker && !marker->synchronizing && marker->size <= limits_.max_append_literal) {
      literal_ = *marker;
      response_.clear();  // sent with the first refusal
      return Next::discard;
    }
    bool too_big = marker && !marker->synchronizing;
    skipping_ = false;
    take();
    response_.clear();
    if (too_big) return refuse("BAD [TOOBIG] Literal too large", true);
    return Next::refused;
  }
  raw_.text.append(line);
  if (marker) raw_.text.append("\r\n");
  if (raw_.text.size() > limits_.max_command) {
    if (marker && !marker->synchronizing) return refuse("BAD [TOOBIG] Command too long", true);
    return refuse("BAD [TOOBIG] Command too long", false);
  }
  if (!marker) return Next::complete;

  const std::uint64_t size = marker->size;
  bool too_big;
  if (append_) {
    too_big = size > limits_.max_append_literal || literal_total_ + size > limits_.max_append_total;
  } else {
    too_big = size > limits_.max_literal || raw_.text.size() + literal_total_ + size > limits_.max_command;
  }
  bool minus_refusal = limits_.literal_minus && !marker->synchronizing && size > 4096;
  if (too_big || minus_refusal) {
    // RFC 7889 §4: APPEND over the limit gets NO [TOOBIG]; RFC 7888 §5: a
    // LITERAL- violation gets BAD [TOOBIG].
    std::string text = append_ && !minus_refusal ? "NO [TOOBIG] Message too large" : "BAD [TOOBIG] Literal too large";
    if (marker->synchronizing) return refuse(text, false);
    // Its bytes are on their way: drop them, unless there are too many.
    if (size > limits_.max_append_literal) return refuse("BAD [TOOBIG] Literal too large", true);
    response_ = (tag_.empty() ? std::string("*") : tag_) + " " + text + "\r\n";
    skipping_ = true;
    literal_ = *marker;
    return Next::discard;
  }
  literal_ = *marker;
  literal_total_ += size;
  return Next::literal;
}

void CommandReader::add_literal(std::string bytes) { raw_.literals.push_back(std::move(bytes)); }

RawCommand CommandReader::take() {
  RawCommand out = std::move(raw_);
  raw_ = RawCommand{};
  started_ = false;
  append_ = false;
  literal_total_ = 0;
  tag_.clear();
  return out;
}

}  // namespace roost::imap

// A message's bytes as a POP3 multi-line response (RFC 1939 §3): every line
// ends in CRLF (maildir files may use bare LF), a line that starts with "."
// gets another, and the response ends with ".". TOP's variant stops after
// the header, the empty line and the first N lines of the body (§7), so
// that only as much of the file is read as is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace roost::pop3 {

class MessageStream {
 public:
  // No limit: the whole message (RETR); a limit: TOP with that many body lines.
  explicit MessageStream(std::optional<std::uint64_t> body_lines = std::nullopt) : body_lines_(body_lines) {}

  // Converts the next bytes of the message onto `out`. False once TOP has
  // all it needs: the rest of the message need not be read.
  bool add(std::string_view bytes, std::string& out);
  // Ends the last line if the message did not, and adds the final ".".
  void finish(std::string& out);

 private:
  std::optional<std::uint64_t> body_lines_;
  std::uint64_t lines_sent_ = 0;  // body lines, once in the body
  bool in_body_ = false;
  bool line_start_ = true;
  bool line_empty_ = true;  // nothing but CR so far on this line
  bool after_cr_ = false;
  bool complete_ = false;
};

}  // namespace roost::pop3

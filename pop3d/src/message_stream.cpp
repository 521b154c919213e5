#include "roost/pop3d/message_stream.hpp"

namespace roost::pop3 {

bool MessageStream::add(std::string_view bytes, std::string& out) {
  if (complete_) return false;
  out.reserve(out.size() + bytes.size() + bytes.size() / 32 + 8);
  std::size_t at = 0;
  while (at < bytes.size()) {
    // A line's bytes are copied as one span; only its start (a dot to
    // stuff) and its end (the LF) need a look of their own.
    if (line_start_ && bytes[at] == '.') out += '.';
    std::size_t lf = bytes.find('\n', at);
    std::size_t end = lf == std::string_view::npos ? bytes.size() : lf;
    if (end > at) {
      out.append(bytes.data() + at, end - at);
      line_start_ = false;
      for (std::size_t i = at; line_empty_ && i < end; ++i) line_empty_ = bytes[i] == '\r';
      after_cr_ = bytes[end - 1] == '\r';
    }
    if (lf == std::string_view::npos) break;
    if (!after_cr_) out += '\r';
    out += '\n';
    at = lf + 1;
    const bool was_empty = line_empty_;
    line_start_ = line_empty_ = true;
    after_cr_ = false;
    if (!body_lines_) continue;
    if (!in_body_) {
      if (!was_empty) continue;
      in_body_ = true;  // that was the empty line after the header
    } else {
      ++lines_sent_;
    }
    if (lines_sent_ >= *body_lines_) {
      complete_ = true;
      return false;
    }
  }
  return true;
}

void MessageStream::finish(std::string& out) {
  if (!line_start_) out += after_cr_ ? "\n" : "\r\n";
  out += ".\r\n";
}

}  // namespace roost::pop3

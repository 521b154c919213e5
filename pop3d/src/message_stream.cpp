#include "roost/pop3d/message_stream.hpp"

namespace roost::pop3 {

bool MessageStream::add(std::string_view bytes, std::string& out) {
  if (complete_) return false;
  out.reserve(out.size() + bytes.size() + bytes.size() / 32 + 8);
  for (char c : bytes) {
    if (c == '\n') {
      if (!after_cr_) out += '\r';
      out += '\n';
      bool was_empty = line_empty_;
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
      continue;
    }
    if (line_start_ && c == '.') out += '.';
    out += c;
    line_start_ = false;
    after_cr_ = c == '\r';
    if (c != '\r') line_empty_ = false;
  }
  return true;
}

void MessageStream::finish(std::string& out) {
  if (!line_start_) out += after_cr_ ? "\n" : "\r\n";
  out += ".\r\n";
}

}  // namespace roost::pop3

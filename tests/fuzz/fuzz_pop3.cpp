// The POP3 command parser, the message stream and the UIDL template on
// arbitrary bytes. The stream's output must be a well-formed multi-line
// body: CRLF line ends only, no line that is a lone "." before the end,
// and the original bytes back after un-stuffing (RETR, no limit).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "roost/core/uidl_format.hpp"
#include "roost/pop3d/message_stream.hpp"
#include "roost/pop3d/syntax.hpp"

namespace {

void check_stream(std::string_view message) {
  roost::pop3::MessageStream stream;
  std::string out;
  // Two pieces, split where the first byte says.
  std::size_t cut = message.empty() ? 0 : static_cast<unsigned char>(message[0]) % (message.size() + 1);
  stream.add(message.substr(0, cut), out);
  stream.add(message.substr(cut), out);
  stream.finish(out);
  if (out.size() < 3 || out.substr(out.size() - 3) != ".\r\n") std::abort();
  std::string body = out.substr(0, out.size() - 3);
  std::string restored;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find("\r\n", start);
    if (end == std::string::npos) std::abort();  // every line ends in CRLF
    std::string_view line(body.data() + start, end - start);
    if (line == ".") std::abort();  // would end the response early
    if (line.find('\n') != std::string_view::npos) std::abort();
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    restored += line;
    restored += '\n';
    start = end + 2;
  }
  // Un-stuffed and with every line end as LF, the message comes back (a
  // final line end may have been added).
  std::string expected;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
    expected += message[i];
  }
  if (!expected.empty() && expected.back() == '\r') expected.back() = '\n';
  if (!expected.empty() && expected.back() != '\n') expected += '\n';
  if (restored != expected) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = roost::pop3::parse_command(input);
  if (auto* e = std::get_if<roost::pop3::SyntaxError>(&parsed); e && e->text.empty()) std::abort();
  check_stream(input);
  roost::pop3::MessageStream top(size % 5);
  std::string out;
  top.add(input, out);
  if (auto format = roost::UidlFormat::parse(input)) {
    std::string uidl = format->render(4294967295u, 1, "1.M2P3.host");
    if (uidl.empty()) std::abort();
  }
  return 0;
}

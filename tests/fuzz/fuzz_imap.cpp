// The IMAP command reader and parser on arbitrary input: the bytes are cut
// into lines, and after each announced literal exactly its bytes, as the
// session does. Never crashes; every refusal is a whole response line and
// every syntax error says what was wrong; CATENATE URLs in what parses
// are parsed too.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "roost/imapd/imap_url.hpp"
#include "roost/imapd/syntax.hpp"

namespace {

void check_command(const roost::imap::RawCommand& raw) {
  auto parsed = roost::imap::parse_command(raw);
  if (auto* e = std::get_if<roost::imap::SyntaxError>(&parsed)) {
    if (e->text.empty()) std::abort();
    return;
  }
  // CATENATE URLs (RFC 5092) are parsed when the command runs.
  const auto& request = std::get<roost::imap::Request>(parsed);
  if (const auto* append = std::get_if<roost::imap::Append>(&request.command)) {
    for (const auto& message : append->messages)
      for (const auto& part : message.catenate)
        if (part.url) {
          auto url = roost::imap::parse_imap_url(part.data);
          if (url && url->uid == 0) std::abort();
        }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The session's own limits (a command of up to 256 KiB, run with inputs
  // that large), and, on every other input, the gate of a session that has
  // not logged in.
  roost::imap::SyntaxLimits limits;
  limits.max_literal = 64 * 1024;
  limits.max_append_literal = 128 * 1024;
  limits.max_append_total = 256 * 1024;
  limits.max_command = 256 * 1024;
  limits.literal_minus = !input.empty() && (input[0] & 1);
  roost::imap::CommandReader::Gate gate;
  if (!input.empty() && (input[0] & 2)) {
    gate = [](std::string_view name) -> std::optional<std::string> {
      auto kind = roost::imap::command_kind(name);
      if (!kind || *kind == roost::imap::Command(std::in_place_type<roost::imap::Login>).index()) return std::nullopt;
      return "NO [CLIENTBUG] Log in first";
    };
  }
  roost::imap::CommandReader reader(limits, gate);
  using Next = roost::imap::CommandReader::Next;
  while (!input.empty()) {
    std::size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    if (line.ends_with('\r')) line.remove_suffix(1);
    input.remove_prefix(eol == std::string_view::npos ? input.size() : eol + 1);
    Next next = reader.add_line(line);
    if (next == Next::literal || next == Next::discard) {
      std::size_t n = static_cast<std::size_t>(reader.literal().size);
      if (n > input.size()) break;
      if (next == Next::literal) reader.add_literal(std::string(input.substr(0, n)));
      input.remove_prefix(n);
      continue;
    }
    if (next == Next::refused || next == Next::close) {
      const std::string& r = reader.response();
      if (!r.empty() && !r.ends_with("\r\n")) std::abort();
      if (next == Next::close) break;
      continue;
    }
    check_command(reader.take());
  }
  return 0;
}

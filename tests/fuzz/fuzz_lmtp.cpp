// The LMTP command parser on arbitrary lines: never crashes, and every
// error it gives is a well-formed reply (a 5xx code with an enhanced code).
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "roost/lmtpd/syntax.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = roost::lmtp::parse_command(line);
  if (auto* e = std::get_if<roost::lmtp::SyntaxError>(&parsed)) {
    if (e->code < 500 || e->code > 599 || e->enhanced.size() != 5 || e->enhanced[0] != '5') std::abort();
  }
  (void)roost::lmtp::decode_xtext(line);
  return 0;
}

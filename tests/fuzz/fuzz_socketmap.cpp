// Postfix socketmap requests as the socketmap service reads them: any bytes,
// parsed request after request the way the service consumes its input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roost/proxy/socketmap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (!input.empty()) {
    auto parsed = roost::proxy::parse_socketmap(input);
    if (parsed.consumed == 0 || parsed.consumed > input.size()) break;
    if (parsed.request) (void)roost::proxy::lmtp_nexthop(parsed.request->key);
    if (!parsed.request) break;
    input.remove_prefix(parsed.consumed);
  }
  return 0;
}

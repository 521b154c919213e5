// libFuzzer target: the PROXY protocol parser on arbitrary bytes. A complete
// header must never claim more bytes than it was given, and feeding the same
// bytes in two pieces must not change the verdict.
#include <cstddef>
#include <cstdint>
#include <span>

#include "roost/core/proxy_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace roost::proxy_protocol;
  auto whole = parse({data, size});
  if (whole.status == Status::complete) {
    if (whole.header.length > size || whole.header.length > max_header) __builtin_trap();
    // Any prefix shorter than the header must ask for more, not decide.
    for (std::size_t n = 1; n < whole.header.length; n += 7) {
      if (parse({data, n}).status == Status::complete) __builtin_trap();
    }
  }
  return 0;
}

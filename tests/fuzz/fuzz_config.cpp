// libFuzzer target: the roost.conf parser must answer any text with a
// Config or a file:line error, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roost/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = roost::parse_config(text, "/fuzz/roost.conf");
  if (!config && config.error().message.rfind("/fuzz/roost.conf", 0) != 0 &&
      config.error().message.rfind("built-in", 0) != 0) {
    __builtin_trap();  // every error must name the file
  }
  return 0;
}

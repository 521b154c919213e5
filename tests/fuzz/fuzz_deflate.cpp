// libFuzzer target: the COMPRESS=DEFLATE layer. Arbitrary client bytes, in
// arbitrary pieces with idle releases between them, must decompress or be
// reported broken, never crash; anything compressed must decompress (with
// a fresh zlib inflater) to itself across releases.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "roost/core/deflate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t piece = 1 + data[0] % 64;

  roost::DeflateLayer layer;
  char out[256];
  for (std::size_t at = 0; at < input.size(); at += piece) {
    const auto chunk = input.substr(at, piece);
    std::size_t room = 0;
    char* space = layer.input_space(chunk.size(), room);
    std::copy(chunk.begin(), chunk.end(), space);
    layer.received(chunk.size());
    std::ptrdiff_t n = 0;
    std::size_t total = 0;
    while ((n = layer.decompress(out, sizeof out)) > 0) total += static_cast<std::size_t>(n);
    if (n < 0) break;
    if (total > 64u << 20) __builtin_trap();  // deflate expands at most about 1032:1
    layer.release_idle();
  }

  roost::DeflateLayer sender;
  std::string wire;
  for (std::size_t at = 0; at < input.size(); at += piece) {
    if (!sender.compress(input.substr(at, piece), wire)) __builtin_trap();
    sender.release_idle();
  }
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) return 0;
  std::string plain(input.size() + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(wire.data());
  z.avail_in = static_cast<uInt>(wire.size());
  z.next_out = reinterpret_cast<Bytef*>(plain.data());
  z.avail_out = static_cast<uInt>(plain.size());
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  plain.resize(plain.size() - z.avail_out);
  inflateEnd(&z);
  if (!wire.empty() && (rc != Z_OK || plain != input)) __builtin_trap();
  return 0;
}

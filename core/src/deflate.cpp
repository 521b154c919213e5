#include "roost/core/deflate.hpp"

#include <zlib.h>

#include <algorithm>

namespace roost {

namespace {
// RFC 4978 §4: windowBits -8 to -15 select a raw stream; 15 bits is the
// 32 KiB window every peer can read.
constexpr int kWindowBits = -15;
constexpr std::size_t kWindowSize = std::size_t{1} << 15;
// zlib's own default and Dovecot's imap_zlib_compress_level.
constexpr int kLevel = 6;
// Approximate zlib state sizes (zlib's doc/algorithm.txt and zconf.h).
constexpr std::size_t kDeflateState = (std::size_t{1} << 17) + (std::size_t{1} << 17) + 6 * 1024;
constexpr std::size_t kInflateState = kWindowSize + 7 * 1024;
}  // namespace

struct DeflateLayer::Streams {
  z_stream deflater{};
  bool deflating = false;
  z_stream inflater{};
  bool inflating = false;
  bool inflate_full = false;  // the last decompress() filled its output
  std::string history;        // the inflater's window while it is released
  std::string input;          // received, not yet decompressed: [input_begin, input.size())
  std::size_t input_begin = 0;
  std::size_t offered = 0;    // bytes input_space() added, not yet confirmed by received()

  ~Streams() {
    if (deflating) deflateEnd(&deflater);
    if (inflating) inflateEnd(&inflater);
  }
};

DeflateLayer::DeflateLayer() : z_(std::make_unique<Streams>()) {}
DeflateLayer::~DeflateLayer() = default;

bool DeflateLayer::compress(std::string_view plain, std::string& out) {
  auto& z = *z_;
  if (!z.deflating) {
    if (deflateInit2(&z.deflater, kLevel, Z_DEFLATED, kWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
    z.deflating = true;
  }
  z.deflater.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.deflater.avail_in = static_cast<uInt>(plain.size());
  // Z_FULL_FLUSH must be repeated until it leaves output space unused (zlib.h).
  do {
    const std::size_t before = out.size();
    const std::size_t room = std::max<std::size_t>(deflateBound(&z.deflater, z.deflater.avail_in) + 16, 4096);
    out.resize(before + room);
    z.deflater.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    z.deflater.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&z.deflater, Z_FULL_FLUSH);
    out.resize(out.size() - z.deflater.avail_out);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
  } while (z.deflater.avail_out == 0);
  return z.deflater.avail_in == 0;
}

char* DeflateLayer::input_space(std::size_t want, std::size_t& room) {
  auto& z = *z_;
  if (z.input_begin == z.input.size()) {
    z.input.clear();
    z.input_begin = 0;
  }
  const std::size_t used = z.input.size();
  z.input.resize(used + want);
  z.offered = want;
  room = want;
  return z.input.data() + used;
}

void DeflateLayer::received(std::size_t n) {
  // input_space() grew the buffer by `offered`; keep only what arrived.
  auto& z = *z_;
  z.input.resize(z.input.size() - (z.offered - std::min(n, z.offered)));
  z.offered = 0;
}

std::ptrdiff_t DeflateLayer::decompress(char* dest, std::size_t room) {
  auto& z = *z_;
  if (z.input_begin == z.input.size() && !z.inflate_full) return 0;
  if (!z.inflating) {
    if (inflateInit2(&z.inflater, kWindowBits) != Z_OK) return -1;
    z.inflating = true;
    if (!z.history.empty()) {
      if (inflateSetDictionary(&z.inflater, reinterpret_cast<const Bytef*>(z.history.data()),
                               static_cast<uInt>(z.history.size())) != Z_OK)
        return -1;
      std::string().swap(z.history);
    }
  }
  z.inflater.next_in = reinterpret_cast<Bytef*>(z.input.data() + z.input_begin);
  z.inflater.avail_in = static_cast<uInt>(z.input.size() - z.input_begin);
  z.inflater.next_out = reinterpret_cast<Bytef*>(dest);
  z.inflater.avail_out = static_cast<uInt>(room);
  const int rc = inflate(&z.inflater, Z_SYNC_FLUSH);
  // A client never ends its stream (Z_STREAM_END): that, like bad data, is a broken stream.
  if (rc != Z_OK && rc != Z_BUF_ERROR) return -1;
  z.input_begin = z.input.size() - z.inflater.avail_in;
  const std::size_t produced = room - z.inflater.avail_out;
  z.inflate_full = z.inflater.avail_out == 0;
  return static_cast<std::ptrdiff_t>(produced);
}

bool DeflateLayer::output_pending() const { return z_->inflate_full || z_->input_begin < z_->input.size(); }

void DeflateLayer::release_idle() {
  auto& z = *z_;
  // Every compress() ended with a full flush: nothing later refers back.
  if (z.deflating) {
    deflateEnd(&z.deflater);
    z.deflating = false;
  }
  // data_type 128: between blocks, no bits left over, not in a last block
  // (zlib.h on inflate()'s data_type).
  if (z.inflating && !output_pending() && z.inflater.data_type == 128) {
    z.history.resize(kWindowSize);
    uInt length = static_cast<uInt>(z.history.size());
    if (inflateGetDictionary(&z.inflater, reinterpret_cast<Bytef*>(z.history.data()), &length) == Z_OK) {
      z.history.resize(length);
      z.history.shrink_to_fit();
      inflateEnd(&z.inflater);
      z.inflating = false;
    } else {
      std::string().swap(z.history);
    }
  }
  if (z.input_begin == z.input.size()) {
    std::string().swap(z.input);
    z.input_begin = 0;
  }
}

std::size_t DeflateLayer::retained_bytes() const {
  const auto& z = *z_;
  return (z.deflating ? kDeflateState : 0) + (z.inflating ? kInflateState : 0) + z.history.capacity() +
         z.input.capacity();
}

}  // namespace roost

// The COMPRESS=DEFLATE layer (RFC 4978): raw deflate streams (RFC 1951) in
// both directions, through zlib.
//
// Idle connections must stay cheap (DESIGN.md), and zlib's states are not
// (about 256 KiB to compress, 40 KiB to decompress). So:
//  - every flush of output ends with Z_FULL_FLUSH: what follows never refers
//    back, and the compressor is dropped while the connection idles and
//    started again for the next output (a raw stream has no header, so the
//    new compressor's blocks simply continue the stream);
//  - the decompressor must keep the client's history (up to 32 KiB, the
//    window the client's compressor may refer to). While idle, if it stands
//    at a block boundary with no bits pending (where a client's
//    Z_SYNC_FLUSH leaves it), only that history is kept, and a new
//    decompressor starts from it (inflateSetDictionary) when input comes.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace roost {

class DeflateLayer {
 public:
  DeflateLayer();
  ~DeflateLayer();
  DeflateLayer(const DeflateLayer&) = delete;
  DeflateLayer& operator=(const DeflateLayer&) = delete;

  // Appends `plain`, compressed and flushed (Z_FULL_FLUSH), to `out`.
  // False if zlib fails (out of memory).
  bool compress(std::string_view plain, std::string& out);

  // Room for at least `want` bytes of received (compressed) input; then
  // received(n) for what was put there.
  char* input_space(std::size_t want, std::size_t& room);
  void received(std::size_t n);

  // Decompresses pending input into [dest, dest + room). Returns the bytes
  // produced (0: more input needed), or -1 if the stream is broken.
  std::ptrdiff_t decompress(char* dest, std::size_t room);
  // Whether decompress() may produce more without new input.
  bool output_pending() const;

  // Releases what an idle connection need not keep (see above).
  void release_idle();
  // Bytes held now beyond this object (zlib states, buffers, history).
  std::size_t retained_bytes() const;

 private:
  struct Streams;
  std::unique_ptr<Streams> z_;
};

}  // namespace roost

// The COMPRESS=DEFLATE layer against zlib as a client uses it: a client's
// stream that refers back across commands is read correctly although the
// layer keeps only the history while idle, and the server's stream reads
// as one raw deflate stream although its compressor is dropped between
// flushes (RFC 4978, core/deflate.hpp).
#include "roost/core/deflate.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace roost {
namespace {

// A client's compressor: raw deflate, Z_SYNC_FLUSH after every command.
class ClientDeflater {
 public:
  ClientDeflater() { deflateInit2(&z_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY); }
  ~ClientDeflater() { deflateEnd(&z_); }
  std::string compress(const std::string& plain) {
    std::string out(plain.size() + 1024, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
    z_.avail_in = static_cast<uInt>(plain.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z_, Z_SYNC_FLUSH), Z_OK);
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
};

std::string feed(DeflateLayer& layer, const std::string& wire) {
  std::size_t room = 0;
  char* space = layer.input_space(wire.size(), room);
  std::copy(wire.begin(), wire.end(), space);
  layer.received(wire.size());
  std::string plain;
  char buffer[100];  // small: decompress() must be called until it has no more
  for (;;) {
    auto n = layer.decompress(buffer, sizeof buffer);
    EXPECT_GE(n, 0);
    if (n <= 0) break;
    plain.append(buffer, static_cast<std::size_t>(n));
  }
  EXPECT_FALSE(layer.output_pending());
  return plain;
}

TEST(Deflate, ClientHistorySurvivesIdleRelease) {
  DeflateLayer layer;
  ClientDeflater client;
  const std::string command = "a1 UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)\r\n";
  EXPECT_EQ(feed(layer, client.compress(command)), command);
  layer.release_idle();
  // Idle: no zlib state, only the 32 KiB window at most (here the command).
  EXPECT_LE(layer.retained_bytes(), command.size() + 64);
  // The same command again is mostly a reference into that history.
  const std::string again = "a2" + command.substr(2);
  const std::string wire = client.compress(again);
  EXPECT_LT(wire.size(), again.size() / 3);
  EXPECT_EQ(feed(layer, wire), again);
  // More than a window of history: the newest 32 KiB are what counts.
  std::string big;
  for (int i = 0; big.size() < 100000; ++i) big += "a" + std::to_string(i) + " NOOP with some text\r\n";
  EXPECT_EQ(feed(layer, client.compress(big)), big);
  layer.release_idle();
  EXPECT_LE(layer.retained_bytes(), 32768u + 64);
  EXPECT_EQ(feed(layer, client.compress(big.substr(big.size() - 5000))), big.substr(big.size() - 5000));
}

TEST(Deflate, HalfACommandKeepsTheState) {
  DeflateLayer layer;
  ClientDeflater client;
  std::string wire = client.compress("a1 NOOP\r\n");
  // Only part of the flushed data has arrived: not at a block boundary.
  EXPECT_EQ(feed(layer, wire.substr(0, wire.size() - 4)), "a1 NOOP\r\n");
  layer.release_idle();
  EXPECT_GT(layer.retained_bytes(), 32768u);
  EXPECT_EQ(feed(layer, wire.substr(wire.size() - 4)), "");
  layer.release_idle();
  EXPECT_LT(layer.retained_bytes(), 1024u);
}

TEST(Deflate, ServerStreamReadsWholeAcrossReleases) {
  DeflateLayer layer;
  z_stream client{};
  ASSERT_EQ(inflateInit2(&client, -15), Z_OK);
  std::string expected, wire;
  for (int round = 0; round < 5; ++round) {
    std::string reply;
    for (int i = 0; i < 200 * (round + 1); ++i) reply += "* " + std::to_string(i) + " FETCH (FLAGS (\\Seen))\r\n";
    expected += reply;
    ASSERT_TRUE(layer.compress(reply, wire));
    layer.release_idle();
    EXPECT_LT(layer.retained_bytes(), 1024u);
  }
  EXPECT_LT(wire.size(), expected.size() / 4);
  std::string plain(expected.size() + 16, '\0');
  client.next_in = reinterpret_cast<Bytef*>(wire.data());
  client.avail_in = static_cast<uInt>(wire.size());
  client.next_out = reinterpret_cast<Bytef*>(plain.data());
  client.avail_out = static_cast<uInt>(plain.size());
  EXPECT_EQ(inflate(&client, Z_SYNC_FLUSH), Z_OK);
  plain.resize(plain.size() - client.avail_out);
  EXPECT_EQ(plain, expected);
  EXPECT_EQ(client.avail_in, 0u);
  inflateEnd(&client);
}

TEST(Deflate, GarbageIsABrokenStream) {
  DeflateLayer layer;
  std::size_t room = 0;
  char* space = layer.input_space(4, room);
  std::copy_n("\xff\xff\xff\xff", 4, space);
  layer.received(4);
  char buffer[64];
  EXPECT_EQ(layer.decompress(buffer, sizeof buffer), -1);
}

}  // namespace
}  // namespace roost

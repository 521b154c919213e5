// PROXY protocol header parsing, from ../shared/rfc/proxy-protocol.txt §2.1
// (v1 text) and §2.2 (v2 binary).
#include "roost/core/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roost::proxy_protocol {
namespace {

Result parse_text(std::string_view s) {
  return parse({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

std::vector<std::uint8_t> v2(std::uint8_t ver_cmd, std::uint8_t fam,
                             std::vector<std::uint8_t> body) {
  std::vector<std::uint8_t> out = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
  out.push_back(ver_cmd);
  out.push_back(fam);
  out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

TEST(ProxyV1, Tcp4WithFollowingBytesLeftAlone) {
  auto r = parse_text("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n");
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.header.length, 47u);
  ASSERT_TRUE(r.header.source);
  EXPECT_EQ(r.header.source->to_string(), "192.168.0.1");
  EXPECT_EQ(r.header.source_port, 56324);
}

TEST(ProxyV1, Tcp6AndUnknown) {
  auto r = parse_text("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n");
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.header.source->to_string(), "2001:db8::1");
  auto u = parse_text("PROXY UNKNOWN\r\n");
  ASSERT_EQ(u.status, Status::complete);
  EXPECT_FALSE(u.header.source);
  EXPECT_EQ(u.header.length, 15u);
  auto u2 = parse_text("PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n");
  ASSERT_EQ(u2.status, Status::complete);
  EXPECT_FALSE(u2.header.source);
}

TEST(ProxyV1, IncompleteAsksForMore) {
  EXPECT_EQ(parse_text("PRO").status, Status::need_more);
  EXPECT_EQ(parse_text("PROXY TCP4 1.2.3.4 ").status, Status::need_more);
}

TEST(ProxyV1, RejectsWhatTheSpecForbids) {
  EXPECT_EQ(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n").status, Status::invalid);  // bare LF
  EXPECT_EQ(parse_text("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY TCP4 ::1 ::1 1 2\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY TCP6 1.2.3.4 1.2.3.4 1 2\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n").status, Status::invalid);
  EXPECT_EQ(parse_text(std::string("PROXY UNKNOWN ") + std::string(120, 'x')).status,
            Status::invalid);
  EXPECT_EQ(parse_text("a001 LOGIN x y\r\n").status, Status::invalid);
}

TEST(ProxyV2, ProxyTcp4) {
  auto bytes = v2(0x21, 0x11, {192, 0, 2, 7, 198, 51, 100, 1, 0x30, 0x39, 0x00, 0x8f});
  bytes.push_back(0x16);  // a TLS ClientHello's first byte stays unconsumed
  auto r = parse(bytes);
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.header.length, 28u);
  EXPECT_EQ(r.header.source->to_string(), "192.0.2.7");
  EXPECT_EQ(r.header.source_port, 12345);
}

TEST(ProxyV2, ProxyTcp6WithTlvs) {
  std::vector<std::uint8_t> body(36, 0);
  body[0] = 0x20;
  body[1] = 0x01;
  body[2] = 0x0d;
  body[3] = 0xb8;
  body[15] = 0x09;
  body[32] = 0x01;
  body[33] = 0x02;
  for (std::uint8_t b : {0x04, 0x00, 0x01, 0x00}) body.push_back(b);  // a NOOP TLV
  auto r = parse(v2(0x21, 0x21, body));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_EQ(r.header.length, 16u + 40u);
  EXPECT_EQ(r.header.source->to_string(), "2001:db8::9");
  EXPECT_EQ(r.header.source_port, 258);
}

TEST(ProxyV2, LocalKeepsTheRealPeer) {
  auto r = parse(v2(0x20, 0x00, {}));
  ASSERT_EQ(r.status, Status::complete);
  EXPECT_FALSE(r.header.source);
  // LOCAL with an address block: its length must still be skipped (§2.2).
  auto r2 = parse(v2(0x20, 0x11, std::vector<std::uint8_t>(12, 1)));
  ASSERT_EQ(r2.status, Status::complete);
  EXPECT_EQ(r2.header.length, 28u);
  EXPECT_FALSE(r2.header.source);
}

TEST(ProxyV2, IncompleteAndInvalid) {
  auto full = v2(0x21, 0x11, {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});
  for (std::size_t n = 1; n < full.size(); ++n) {
    EXPECT_EQ(parse({full.data(), n}).status, Status::need_more) << n;
  }
  EXPECT_EQ(parse(v2(0x11, 0x11, std::vector<std::uint8_t>(12))).status, Status::invalid);
  EXPECT_EQ(parse(v2(0x22, 0x11, std::vector<std::uint8_t>(12))).status, Status::invalid);
  EXPECT_EQ(parse(v2(0x21, 0x41, std::vector<std::uint8_t>(12))).status, Status::invalid);
  EXPECT_EQ(parse(v2(0x21, 0x11, std::vector<std::uint8_t>(4))).status, Status::invalid);
  EXPECT_EQ(parse(v2(0x21, 0x11, std::vector<std::uint8_t>(5000))).status, Status::invalid);
}

}  // namespace
}  // namespace roost::proxy_protocol

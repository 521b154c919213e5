#include "roost/core/net_address.hpp"

#include <gtest/gtest.h>

namespace roost {
namespace {

TEST(IpAddress, ParsesBothFamiliesAndKnowsLoopback) {
  auto v4 = IpAddress::parse("127.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_TRUE(v4->is_loopback());
  EXPECT_EQ(v4->to_string(), "127.0.0.1");
  auto v6 = IpAddress::parse("::1");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->is_v4());
  EXPECT_TRUE(v6->is_loopback());
  EXPECT_FALSE(IpAddress::parse("192.0.2.1")->is_loopback());
  EXPECT_FALSE(IpAddress::parse("300.1.1.1"));
  EXPECT_FALSE(IpAddress::parse("example.org"));
}

TEST(Cidr, MatchesPrefixes) {
  auto net = Cidr::parse("192.168.0.0/16");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*IpAddress::parse("192.168.255.1")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("192.169.0.1")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("::1")));
  auto odd = Cidr::parse("10.0.0.0/9");
  EXPECT_TRUE(odd->contains(*IpAddress::parse("10.127.0.1")));
  EXPECT_FALSE(odd->contains(*IpAddress::parse("10.128.0.1")));
  auto v6 = Cidr::parse("2001:db8::/32");
  EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:1::5")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("2001:db9::5")));
  auto single = Cidr::parse("127.0.0.1");
  EXPECT_TRUE(single->contains(*IpAddress::parse("127.0.0.1")));
  EXPECT_FALSE(single->contains(*IpAddress::parse("127.0.0.2")));
  EXPECT_FALSE(Cidr::parse("::1/129"));
  EXPECT_FALSE(Cidr::parse("1.2.3.4/"));
}

TEST(ListenAddress, ParsesTheForms) {
  auto a = ListenAddress::parse("127.0.0.1:143");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 143);
  auto b = ListenAddress::parse("[::1]:993");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->to_string(), "[::1]:993");
  auto c = ListenAddress::parse("*:110");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "*");
  auto d = ListenAddress::parse("unix:/run/roost/lmtp");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, ListenAddress::Kind::unix_socket);
  EXPECT_FALSE(ListenAddress::parse("::1:143"));
  EXPECT_FALSE(ListenAddress::parse("127.0.0.1"));
  EXPECT_FALSE(ListenAddress::parse("127.0.0.1:"));
  EXPECT_FALSE(ListenAddress::parse("unix:"));
}

}  // namespace
}  // namespace roost

// Postfix socketmap requests (socketmap_table(5)): netstrings, split,
// bounded, and the LMTP next hops the transport map answers with.
#include <gtest/gtest.h>

#include "roost/proxy/socketmap.hpp"

namespace roost::proxy {
namespace {

TEST(Socketmap, RequestsAreNetstrings) {
  auto parsed = parse_socketmap("27:transport alice@example.org,");
  ASSERT_TRUE(parsed.request);
  EXPECT_EQ(parsed.request->name, "transport");
  EXPECT_EQ(parsed.request->key, "alice@example.org");
  EXPECT_EQ(parsed.consumed, 31u);
  // Two in one read: the first, then the rest.
  std::string two = "11:transport a,11:transport b,";
  parsed = parse_socketmap(two);
  ASSERT_TRUE(parsed.request);
  EXPECT_EQ(parsed.request->key, "a");
  parsed = parse_socketmap(std::string_view(two).substr(parsed.consumed));
  ASSERT_TRUE(parsed.request);
  EXPECT_EQ(parsed.request->key, "b");
  EXPECT_EQ(netstring("OK lmtp:inet:[10.0.0.1]:24"), "26:OK lmtp:inet:[10.0.0.1]:24,");
  EXPECT_EQ(netstring("NOTFOUND "), "9:NOTFOUND ,");
}

TEST(Socketmap, IncompleteInputWaits) {
  for (std::string_view part : {"", "2", "27", "27:", "27:transport alice@example", "27:transport alice@example.org"}) {
    auto parsed = parse_socketmap(part);
    EXPECT_FALSE(parsed.request) << part;
    EXPECT_EQ(parsed.consumed, 0u) << part;
  }
}

TEST(Socketmap, WhatIsNoRequestEndsTheConnection) {
  for (std::string_view bad : {"x", "123456", ":a b,", "-1:a b,", "3:a b;", "2:ab,", "3: ab,", "3:ab ,",
                               "99999:", "4097:"}) {
    auto parsed = parse_socketmap(bad);
    EXPECT_FALSE(parsed.request) << bad;
    EXPECT_GT(parsed.consumed, 0u) << bad;
  }
}

TEST(Socketmap, LmtpNextHops) {
  EXPECT_EQ(lmtp_nexthop("10.0.0.1:24"), "lmtp:inet:[10.0.0.1]:24");
  EXPECT_EQ(lmtp_nexthop("shard1.example.org:2024"), "lmtp:inet:[shard1.example.org]:2024");
  EXPECT_EQ(lmtp_nexthop("[::1]:24"), "lmtp:inet:[::1]:24");
  EXPECT_EQ(lmtp_nexthop(""), "");
  EXPECT_EQ(lmtp_nexthop("host"), "");
  EXPECT_EQ(lmtp_nexthop("host:"), "");
  EXPECT_EQ(lmtp_nexthop("host:2x4"), "");
}

}  // namespace
}  // namespace roost::proxy

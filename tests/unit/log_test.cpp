#include "roost/core/log.hpp"

#include <gtest/gtest.h>

namespace roost {
namespace {

TEST(Log, OneLineWithContextAndFields) {
  auto line = log::format(LogLevel::info,
                          {.service = "imap", .session = "3f", .user = "alice",
                           .remote = "127.0.0.1:5000"},
                          "login", {{"mechanism", "PLAIN"}, {"ms", 12}});
  EXPECT_EQ(line,
            "info service=imap session=3f user=alice remote=127.0.0.1:5000 event=login "
            "mechanism=PLAIN ms=12");
}

TEST(Log, HostileValuesCannotForgeLines) {
  auto line = log::format(LogLevel::warning, {}, "login_failed",
                          {{"attempted_user", "bob\r\ninfo event=login user=admin"},
                           {"q", "a\"b"}, {"ctl", std::string_view("\x01\x7f", 2)}, {"empty", ""}});
  EXPECT_EQ(line,
            "warning event=login_failed attempted_user=\"bob\\r\\ninfo event=login user=admin\" "
            "q=\"a\\\"b\" ctl=\"\\x01\\x7f\" empty=\"\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, LevelFilterAndSink) {
  std::vector<std::string> lines;
  log::set_sink([&](std::string_view l) { lines.emplace_back(l); });
  log::set_level(LogLevel::warning);
  log::info({}, "hidden");
  log::warning({.service = "pop3"}, "shown");
  log::set_level(LogLevel::info);
  log::set_sink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("warning service=pop3 event=shown"), std::string::npos);
  EXPECT_EQ(lines[0][4], '-');  // begins with a date
  EXPECT_EQ(lines[0][10], 'T');
}

}  // namespace
}  // namespace roost

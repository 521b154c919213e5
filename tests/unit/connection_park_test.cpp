// Connection::park: a parked connection wakes once for input, its deadline,
// interrupt() and request_stop(), and the read after the wake reports which;
// with something already pending it wakes at once.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "roost/core/connection.hpp"

namespace roost {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ParkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    peer_ = fds[1];
    Connection::Socket socket(io_, asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fds[0]);
    conn_ = std::make_shared<Connection>(std::move(socket), Peer{.is_unix = true});
  }
  void TearDown() override { ::close(peer_); }

  // Parks until `deadline`, runs the loop until the wake (bounded), then
  // reads a line as a service would after waking.
  ReadStatus park_and_read(Clock::time_point deadline, std::string& line) {
    int wakes = 0;
    conn_->park(deadline, [&wakes] { ++wakes; });
    io_.run_for(5s);
    io_.restart();
    EXPECT_EQ(wakes, 1);
    std::optional<ReadStatus> status;
    const auto left = std::chrono::duration_cast<Connection::Duration>(deadline - Clock::now());
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { status = co_await conn_->read_line(line, 1024, left); },
        asio::detached);
    io_.run_for(5s);
    io_.restart();
    EXPECT_TRUE(status.has_value());
    return status.value_or(ReadStatus::error);
  }

  asio::io_context io_;
  std::shared_ptr<Connection> conn_;
  int peer_ = -1;
};

TEST_F(ParkTest, WakesForInput) {
  ASSERT_EQ(::write(peer_, "a NOOP\r\n", 8), 8);
  std::string line;
  EXPECT_EQ(park_and_read(Clock::now() + 10s, line), ReadStatus::ok);
  EXPECT_EQ(line, "a NOOP");
}

TEST_F(ParkTest, WakesAtTheDeadline) {
  const auto start = Clock::now();
  std::string line;
  EXPECT_EQ(park_and_read(start + 100ms, line), ReadStatus::timeout);
  EXPECT_GE(Clock::now() - start, 100ms);
}

TEST_F(ParkTest, WakesForInterruptAndStaysUsable) {
  asio::post(io_, [this] { conn_->interrupt(); });
  std::string line;
  EXPECT_EQ(park_and_read(Clock::now() + 10s, line), ReadStatus::interrupted);
  ASSERT_EQ(::write(peer_, "DONE\r\n", 6), 6);
  EXPECT_EQ(park_and_read(Clock::now() + 10s, line), ReadStatus::ok);
  EXPECT_EQ(line, "DONE");
}

TEST_F(ParkTest, WakesForStop) {
  asio::post(io_, [this] { conn_->request_stop(StopReason::kicked); });
  std::string line;
  EXPECT_EQ(park_and_read(Clock::now() + 10s, line), ReadStatus::stopped);
  EXPECT_EQ(conn_->stop_reason(), StopReason::kicked);
}

TEST_F(ParkTest, WakesAtOnceWithOutputUnwritten) {
  ASSERT_TRUE(conn_->send("* OK\r\n"));
  int wakes = 0;
  conn_->park(Clock::now() + 10s, [&wakes] { ++wakes; });
  const auto start = Clock::now();
  io_.run_for(5s);
  EXPECT_EQ(wakes, 1);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(ParkTest, WakesForTheClientClosing) {
  ::shutdown(peer_, SHUT_WR);
  std::string line;
  EXPECT_EQ(park_and_read(Clock::now() + 10s, line), ReadStatus::closed);
}

}  // namespace
}  // namespace roost

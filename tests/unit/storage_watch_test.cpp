// Change notification (DESIGN.md invariant 3): a session waiting on a
// folder wakes within milliseconds when this process, another process or
// another program changes it, and times out when nothing happens.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <set>
#include <chrono>
#include <thread>

#include "roost/storage/watch.hpp"
#include "storage_test_util.hpp"

extern char** environ;

namespace roost::storage {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Outcome {
  bool changed = false;
  std::chrono::milliseconds after{};
};

// Waits once on `view` while `act` runs on another thread after 50 ms.
Outcome wait_while(FolderView& view, std::chrono::milliseconds timeout, std::function<void()> act) {
  asio::io_context io;
  ChangeWatcher watcher(io.get_executor());
  Outcome outcome;
  auto start = std::chrono::steady_clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    outcome.changed = co_await watcher.wait(view, timeout);
    outcome.after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }, asio::detached);
  std::thread actor([&] {
    std::this_thread::sleep_for(50ms);
    if (act) act();
  });
  io.run();
  actor.join();
  return outcome;
}

TEST(StorageWatch, DeliveryInThisProcessWakesTheWaiter) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("wendy"));
  auto view = std::move(*user->open("INBOX", false));
  Outcome o = wait_while(*view, 10s, [&] { ASSERT_TRUE(user->deliver("INBOX", testing::new_message("hi"))); });
  EXPECT_TRUE(o.changed);
  EXPECT_LT(o.after, 2s);
  auto update = view->refresh(true);
  ASSERT_TRUE(update.has_value());
  EXPECT_TRUE(update->new_messages);
}

TEST(StorageWatch, FlagChangeAndForeignFileWake) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("wendy"));
  ASSERT_TRUE(user->deliver("INBOX", testing::new_message("a")));
  auto view = std::move(*user->open("INBOX", false));
  auto other = std::move(*user->open("INBOX", false));
  Outcome flags = wait_while(*view, 10s, [&] {
    ASSERT_TRUE(other->store({1}, StoreMode::add, Flags{index::flag::flagged, {}}));
  });
  EXPECT_TRUE(flags.changed);
  EXPECT_EQ(view->refresh(true)->flags_changed, std::vector<Uid>{1});
  Outcome foreign = wait_while(*view, 10s, [&] {
    testing::write_file(user->root() / "new" / "1900000000.Mx.foreign", testing::message("dropped"));
  });
  EXPECT_TRUE(foreign.changed);
  EXPECT_LT(foreign.after, 2s);
}

TEST(StorageWatch, TimesOutWhenNothingHappens) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("wendy"));
  auto view = std::move(*user->open("INBOX", false));
  Outcome o = wait_while(*view, 150ms, {});
  EXPECT_FALSE(o.changed);
  EXPECT_GE(o.after, 140ms);
}

TEST(StorageWatch, DeliveryByAnotherProcessWakesTheWaiter) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("crash"));
  auto view = std::move(*user->open("INBOX", false));
  pid_t pid = -1;
  Outcome o = wait_while(*view, 10s, [&] {
    std::string program = std::string(ROOST_BIN_DIR) + "/storage_crash_child";
    std::string root = dir.path().string();
    char* argv[] = {program.data(), root.data(), const_cast<char*>("crash"), const_cast<char*>("1"), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  });
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_TRUE(o.changed);
  EXPECT_LT(o.after, 5s);
  ASSERT_TRUE(view->refresh(true));
  EXPECT_FALSE(view->uids().empty());
}

// A session refreshing while deliveries run in another thread catches
// each delivery between its renames and its index commit; the index is in
// step again once that commit is in, and must not be rebuilt from a scan of
// the directories (which costs a second per 100,000 messages).
TEST(StorageWatch, RefreshDuringOwnDeliveriesNeverScans) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto reader = std::move(*store.open_user("ivy"));
  auto writer = std::move(*store.open_user("ivy"));
  auto view = std::move(*reader->open("INBOX", false));
  const std::uint64_t scans_before = folder_scans();
  std::atomic<bool> done{false};
  std::thread deliverer([&] {
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(writer->deliver("INBOX", testing::new_message("m" + std::to_string(i))));
    done = true;
  });
  int refreshes = 0;
  while (!done) {
    ASSERT_TRUE(view->refresh(true));
    ++refreshes;
  }
  deliverer.join();
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids().size(), 100u);
  EXPECT_GT(refreshes, 100);
  EXPECT_EQ(folder_scans(), scans_before) << refreshes << " refreshes";
}

// NOTIFY's watches (User::watch_paths, watched_change): the root tells of
// folders created, subscriptions and server annotations; a folder's own
// directory of its commits and annotations.
TEST(StorageWatch, NamedPathsSayWhatChanged) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("nora"));
  ASSERT_TRUE(user->create("Lists"));
  auto root = user->watch_paths("INBOX");
  auto lists = user->watch_paths("Lists");
  ASSERT_TRUE(root && lists);
  ASSERT_EQ(root->size(), 3u);
  EXPECT_FALSE(user->watch_paths("Nowhere"));

  asio::io_context io;
  ChangeWatcher watcher(io.get_executor());
  std::set<WatchedChange> at_root, at_lists;
  auto root_watch = watcher.subscribe(*root, [&](std::size_t i, std::string_view e) { at_root.insert(watched_change(i, e)); });
  auto lists_watch = watcher.subscribe(*lists, [&](std::size_t i, std::string_view e) { at_lists.insert(watched_change(i, e)); });
  std::thread actor([&] {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(user->create("Projects"));
    ASSERT_TRUE(user->subscribe("Lists", true));
    ASSERT_TRUE(user->annotate("", {{"/private/vendor/x", std::string("1")}}, 100));
    ASSERT_TRUE(user->annotate("Lists", {{"/private/comment", std::string("c")}}, 100));
    ASSERT_TRUE(user->deliver("Lists", testing::new_message("hi")));
  });
  asio::steady_timer stop(io, 1s);
  stop.async_wait([&](boost::system::error_code) { watcher.close(); });
  io.run();
  actor.join();
  for (auto kind : {WatchedChange::folders, WatchedChange::subscriptions, WatchedChange::server_annotations})
    EXPECT_TRUE(at_root.contains(kind)) << static_cast<int>(kind);
  EXPECT_FALSE(at_root.contains(WatchedChange::annotations));  // Lists' are in its own directory
  EXPECT_TRUE(at_lists.contains(WatchedChange::messages));
  EXPECT_TRUE(at_lists.contains(WatchedChange::annotations));
  EXPECT_FALSE(at_lists.contains(WatchedChange::folders));
}

TEST(StorageWatch, EntryNamesClassified) {
  EXPECT_EQ(watched_change(1, "1700000000.M1P2.host"), WatchedChange::messages);  // new/
  EXPECT_EQ(watched_change(0, ""), WatchedChange::messages);                    // the directory itself
  EXPECT_EQ(watched_change(0, "roost-changes"), WatchedChange::messages);
  EXPECT_EQ(watched_change(0, "roost-annotations"), WatchedChange::annotations);
  EXPECT_EQ(watched_change(0, "roost-server-annotations"), WatchedChange::server_annotations);
  EXPECT_EQ(watched_change(0, "subscriptions"), WatchedChange::subscriptions);
  EXPECT_EQ(watched_change(0, ".Sent"), WatchedChange::folders);
  EXPECT_EQ(watched_change(0, "subscriptions.roost-tmp.1.2"), WatchedChange::other);
  EXPECT_EQ(watched_change(0, "dovecot-uidlist"), WatchedChange::other);
  EXPECT_EQ(watched_change(0, ".."), WatchedChange::other);
}

}  // namespace
}  // namespace roost::storage

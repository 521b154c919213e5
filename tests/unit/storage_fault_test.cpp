// Error paths through the failing backend (fault_injection.hpp): a failed
// write, rename, UID list append, index commit or flush gives a precise
// error and leaves nothing half-done: no stray file, no UID used twice.
#include <gtest/gtest.h>

#include "roost/storage/fault_injection.hpp"
#include "storage_test_util.hpp"

namespace roost::storage {
namespace {

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<Store>(testing::test_config(dir_.path()));
    user_ = std::move(*store_->open_user("fay"));
    ASSERT_TRUE(user_->deliver("INBOX", testing::new_message("before")));
  }
  void TearDown() override { clear_faults(); }

  std::size_t files(const char* sub) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(user_->root() / sub)) ++n;
    return n;
  }

  // Nothing of a failed delivery may remain, and the folder still works.
  void expect_untouched() {
    EXPECT_EQ(files("tmp"), 0u);
    EXPECT_EQ(files("new") + files("cur"), 1u);
    EXPECT_EQ(user_->status("INBOX")->messages, 1u);
    EXPECT_TRUE(user_->verify_index("INBOX").value().empty());
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<User> user_;
};

TEST_F(Faults, DiskFullWhileWritingIsTemporary) {
  inject_fault(FaultPoint::write_message, std::errc::no_space_on_device);
  auto result = user_->deliver("INBOX", testing::new_message("x"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::temporary);
  expect_untouched();
}

TEST_F(Faults, FailedRenameLeavesNothing) {
  inject_fault(FaultPoint::rename_message, std::errc::io_error);
  std::vector<NewMessage> two;
  two.push_back(testing::new_message("x"));
  two.push_back(testing::new_message("y"));
  auto result = user_->append("INBOX", std::move(two));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  expect_untouched();
}

// A delivery that fails while the commit before it stays open for more
// (StoreConfig::commit_delay) fails alone: the deliveries answered in that
// commit keep their UIDs and are indexed.
TEST_F(Faults, FailedDeliveryInAnOpenCommitFailsAlone) {
  user_.reset();
  store_.reset();
  StoreConfig config = testing::test_config(dir_.path());
  config.commit_delay = std::chrono::hours(1);
  store_ = std::make_unique<Store>(config);
  user_ = std::move(*store_->open_user("fay"));
  auto alone = user_->deliver("INBOX", testing::new_message("commits alone"));
  auto waiting = user_->deliver("INBOX", testing::new_message("opens a commit that waits"));
  ASSERT_TRUE(alone && waiting);
  EXPECT_EQ(waiting->uids, std::vector<Uid>{3});
  inject_fault(FaultPoint::rename_message, std::errc::io_error);
  auto failed = user_->deliver("INBOX", testing::new_message("fails"));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, ErrorKind::internal);
  auto after = user_->deliver("INBOX", testing::new_message("after"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->uids, std::vector<Uid>{4});
  EXPECT_EQ(files("tmp"), 0u);
  EXPECT_EQ(files("new"), 4u);
  auto view = user_->open("INBOX", false).value();
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 2, 3, 4}));
  EXPECT_TRUE(user_->verify_index("INBOX").value().empty());
}

TEST_F(Faults, FailedUidListAppendLeavesNothing) {
  inject_fault(FaultPoint::uidlist_append, std::errc::no_space_on_device);
  auto result = user_->deliver("INBOX", testing::new_message("x"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::temporary);
  expect_untouched();
}

TEST_F(Faults, FailedIndexCommitNeverReusesTheUid) {
  inject_fault(FaultPoint::index_commit, std::errc::io_error);
  ASSERT_FALSE(user_->deliver("INBOX", testing::new_message("x")).has_value());
  expect_untouched();
  // UID 2 went into the UID list before the failure: it is never handed out.
  auto next = user_->deliver("INBOX", testing::new_message("y"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->uids, std::vector<Uid>{3});
}

// The batch is answered once durable; the index commit ends after that. If
// it fails, the delivery stands (the UID list has it) and the next sync
// indexes it with the UID it was given.
TEST_F(Faults, IndexCommitFailedAfterTheAnswerIsRedoneBySync) {
  inject_fault(FaultPoint::index_commit_after_answer, std::errc::io_error);
  auto result = user_->deliver("INBOX", testing::new_message("x"));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->uids, std::vector<Uid>{2});
  EXPECT_EQ(files("tmp"), 0u);
  EXPECT_EQ(files("new") + files("cur"), 2u);
  EXPECT_EQ(user_->status("INBOX")->messages, 2u);
  EXPECT_TRUE(user_->verify_index("INBOX").value().empty());
  auto view = user_->open("INBOX", false).value();
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 2}));
  auto next = user_->deliver("INBOX", testing::new_message("y"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->uids, std::vector<Uid>{3});
}

TEST_F(Faults, FailedFlushIsNotAcknowledged) {
  // The directory flush failed: durability is unknown, so the answer is no
  // (the sender retries; a duplicate is better than a loss).
  inject_fault(FaultPoint::flush, std::errc::io_error);
  auto result = user_->deliver("INBOX", testing::new_message("x"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_EQ(files("tmp"), 0u);
  auto problems = user_->verify_index("INBOX").value();
  for (const auto& problem : problems) ADD_FAILURE() << problem;
}

}  // namespace
}  // namespace roost::storage

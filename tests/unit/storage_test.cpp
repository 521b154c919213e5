// The storage API as services use it: delivery, views, flags, expunge,
// folders, other writers, index loss, Dovecot takeover, quota.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "roost/storage/storage.hpp"
#include "folder.hpp"
#include "move_journal.hpp"
#include "storage_test_util.hpp"

namespace roost::storage {
namespace {

namespace fl = index::flag;
using testing::new_message;
using testing::TempDir;

std::unique_ptr<User> open_user(Store& store, const char* name = "alice@example.org") {
  auto user = store.open_user(name);
  EXPECT_TRUE(user.has_value()) << (user ? "" : user.error().detail);
  return std::move(*user);
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Storage, ConcurrentFirstLoginsAndSubscriptionsLoseNothing) {
  // Several deliveries (or logins) for a new user at once all create the
  // default folders; every subscription change is a read-modify-write of
  // one file. None may fail, and none may undo another's.
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.default_folders = {{"Drafts", SpecialUse::drafts}, {"Sent", SpecialUse::sent}, {"Trash", SpecialUse::trash}};
  config.auto_subscribe_defaults = true;
  Store store(config);
  constexpr int kThreads = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto user = store.open_user("new@example.org");
      if (!user) {
        ++failures;
        return;
      }
      std::string name = "Folder" + std::to_string(t);
      if (!(*user)->create(name) || !(*user)->subscribe(name, true)) ++failures;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto user = open_user(store, "new@example.org");
  auto folders = user->list();
  ASSERT_TRUE(folders.has_value());
  std::set<std::string> subscribed;
  for (const auto& f : *folders)
    if (f.subscribed) subscribed.insert(f.name);
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(subscribed.contains("Folder" + std::to_string(t))) << t;
  for (const char* name : {"INBOX", "Drafts", "Sent", "Trash"}) EXPECT_TRUE(subscribed.contains(name)) << name;
  for (const auto& file : files_in(user->root())) EXPECT_EQ(file.find(".roost-tmp"), std::string::npos) << file;
}

TEST(Storage, DeliveryLandsInNewWithAscendingUids) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  auto first = user->deliver("INBOX", new_message("one"));
  auto second = user->deliver("INBOX", new_message("two"));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->uids, std::vector<Uid>{1});
  EXPECT_EQ(second->uids, std::vector<Uid>{2});
  EXPECT_NE(first->uidvalidity, 0u);
  EXPECT_EQ(first->uidvalidity, second->uidvalidity);
  auto inbox_new = files_in(user->root() / "new");
  ASSERT_EQ(inbox_new.size(), 2u);
  EXPECT_NE(inbox_new[0].find(",S="), std::string::npos);
  EXPECT_TRUE(files_in(user->root() / "tmp").empty());
  // The durable UID map names both, UIDs 1 and 2. (Which file is which is
  // not told by name order: the microseconds in a name are not zero-padded.)
  std::string uidlist = testing::read_text(user->root() / "dovecot-uidlist");
  EXPECT_TRUE(uidlist.starts_with("3 V" + std::to_string(first->uidvalidity) + " "));
  std::string a = inbox_new[0].substr(0, inbox_new[0].find(':')), b = inbox_new[1].substr(0, inbox_new[1].find(':'));
  bool in_order = uidlist.find("\n1 :" + a + "\n") != std::string::npos && uidlist.find("\n2 :" + b + "\n") != std::string::npos;
  bool swapped = uidlist.find("\n1 :" + b + "\n") != std::string::npos && uidlist.find("\n2 :" + a + "\n") != std::string::npos;
  EXPECT_TRUE(in_order || swapped) << uidlist;

  auto status = user->status("INBOX");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->messages, 2u);
  EXPECT_EQ(status->unseen, 2u);
  EXPECT_EQ(status->recent, 2u);
  EXPECT_EQ(status->uidnext, 3u);
}

// Deliveries that follow each other closely share one index commit: each is
// answered once its file and UID line are durable, while the transaction
// stays open for the next; the index shows them once it commits, which a
// reader of this process brings about at once (StoreConfig::commit_delay).
TEST(Storage, DeliveriesInAStreamShareOneIndexCommit) {
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.commit_delay = std::chrono::hours(1);
  Store store(config);
  auto user = open_user(store);
  for (Uid expected = 1; expected <= 3; ++expected) {
    auto delivered = user->deliver("INBOX", new_message("stream " + std::to_string(expected)));
    ASSERT_TRUE(delivered.has_value()) << delivered.error().detail;
    EXPECT_EQ(delivered->uids, std::vector<Uid>{expected});
  }
  // Durable: three files, three UID lines.
  EXPECT_EQ(files_in(user->root() / "new").size(), 3u);
  std::string uidlist = testing::read_text(user->root() / "dovecot-uidlist");
  EXPECT_EQ(std::count(uidlist.begin(), uidlist.end(), '\n'), 4) << uidlist;  // header and three lines
  // The first followed nothing and committed alone; the other two wait in
  // one open transaction, invisible to a reader that does not write.
  auto env = index::EnvRegistry::instance().open(user->root() / "roost-index", index::folder_env_options());
  ASSERT_TRUE(env.has_value());
  std::uint32_t indexed = 0;
  ASSERT_TRUE((*env)->read([&](index::Txn& txn) -> std::expected<void, index::LmdbError> {
    auto meta = index::read_meta(txn);
    if (!meta) return std::unexpected(meta.error());
    indexed = meta->messages;
    return {};
  }));
  EXPECT_EQ(indexed, 1u);
  // A view syncs, which ends the wait (not after the hour): all three.
  auto opened = std::async(std::launch::async, [&] { return user->open("INBOX", false); });
  ASSERT_EQ(opened.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  auto view = opened.get();
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(*(*view)->uid_list(), (std::vector<Uid>{1, 2, 3}));
}

// Streams of deliveries whose commits wait for more, beside a session of
// the same process that keeps setting flags and expunging: every delivery
// keeps its UID, nothing is lost or shown twice, and the index agrees with
// the maildir afterwards.
TEST(Storage, DeliveryStreamsBesideSessionWritesLoseNothing) {
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.commit_delay = std::chrono::milliseconds(50);
  Store store(config);
  auto user = open_user(store);
  constexpr int kDeliverers = 2, kEach = 60;
  std::mutex mutex;
  std::set<Uid> delivered, expunged;
  std::atomic<int> failures{0}, running{kDeliverers};
  std::vector<std::thread> deliverers;
  for (int t = 0; t < kDeliverers; ++t) {
    deliverers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto result = user->deliver("INBOX", new_message("stream " + std::to_string(t) + "/" + std::to_string(i)));
        std::lock_guard lock(mutex);
        if (!result || !delivered.insert(result->uids.at(0)).second) ++failures;
      }
      --running;
    });
  }
  for (int round = 0; running > 0 || round < 3; ++round) {
    auto view = user->open("INBOX", false);
    ASSERT_TRUE(view.has_value()) << view.error().detail;
    auto uids = *(*view)->uid_list();
    if (uids.empty()) continue;
    ASSERT_TRUE((*view)->store(uids, StoreMode::add, Flags{fl::seen, {}}).has_value());
    if (round % 4 == 0) {
      ASSERT_TRUE((*view)->store({uids.front()}, StoreMode::add, Flags{fl::deleted, {}}).has_value());
      auto gone = (*view)->expunge();
      ASSERT_TRUE(gone.has_value());
      std::lock_guard lock(mutex);
      expunged.insert(gone->begin(), gone->end());
    }
  }
  for (auto& thread : deliverers) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(delivered.size(), static_cast<std::size_t>(kDeliverers * kEach));
  std::vector<Uid> expected;
  std::set_difference(delivered.begin(), delivered.end(), expunged.begin(), expunged.end(), std::back_inserter(expected));
  auto view = user->open("INBOX", false);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(*(*view)->uid_list(), expected);
  EXPECT_EQ(files_in(user->root() / "new").size() + files_in(user->root() / "cur").size(), expected.size());
  auto problems = user->verify_index("INBOX");
  ASSERT_TRUE(problems.has_value());
  for (const auto& problem : *problems) ADD_FAILURE() << problem;
}

TEST(Storage, ExistingNamesAFolderWithoutOpeningIt) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  EXPECT_EQ(user->existing("inbox").value(), "INBOX");
  auto missing = user->existing("Work");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  ASSERT_TRUE(user->create("Work"));
  EXPECT_EQ(user->existing("Work").value(), "Work");
  EXPECT_FALSE(std::filesystem::exists(user->root() / ".Work" / "roost-index"));
}

TEST(Storage, AppendKeepsFlagsKeywordsAndBytes) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  std::vector<NewMessage> batch;
  batch.push_back(new_message("a", fl::seen | fl::flagged, {"$Forwarded", "Work"}));
  batch.push_back(new_message("b"));
  std::string original = batch[0].data;
  auto appended = user->append("INBOX", std::move(batch));
  ASSERT_TRUE(appended.has_value());
  EXPECT_EQ(appended->uids, (std::vector<Uid>{1, 2}));
  auto cur = files_in(user->root() / "cur");
  ASSERT_EQ(cur.size(), 2u);
  EXPECT_TRUE(cur[0].ends_with(":2,FSab") || cur[1].ends_with(":2,FSab")) << cur[0] << " " << cur[1];
  EXPECT_EQ(testing::read_text(user->root() / "dovecot-keywords"), "0 $Forwarded\n1 Work\n");

  auto view = user->open("INBOX", false);
  ASSERT_TRUE(view.has_value());
  auto infos = (*view)->messages({1, 2});
  ASSERT_TRUE(infos.has_value());
  ASSERT_EQ(infos->size(), 2u);
  EXPECT_EQ((*infos)[0].system_flags, fl::seen | fl::flagged);
  EXPECT_EQ((*infos)[0].keywords, (std::vector<std::string>{"$Forwarded", "Work"}));
  EXPECT_EQ((*infos)[0].internal_date, 1772445600);
  EXPECT_EQ((*view)->read(1).value(), original);
  EXPECT_EQ((*view)->read_range(1, 6, 5).value(), original.substr(6, 5));
  auto caches = (*view)->caches({1, 7}, index::cache_field::all);
  ASSERT_TRUE(caches.has_value());
  ASSERT_EQ(caches->size(), 1u);  // UID 7 does not exist
  const auto& cache = (*caches)[0].second;
  EXPECT_NE(cache.envelope.find("\"a\""), std::string::npos);
  EXPECT_TRUE(cache.header_complete);
  EXPECT_EQ(cache.parts.size(), 1u);
  // Only what is asked for is decoded.
  auto envelope_only = (*view)->caches({1}, index::cache_field::envelope).value();
  EXPECT_EQ(envelope_only[0].second.envelope, cache.envelope);
  EXPECT_TRUE(envelope_only[0].second.header.empty());
  EXPECT_TRUE(envelope_only[0].second.parts.empty());
}

TEST(Storage, StoreFlagsRenamesAndOtherViewsHear) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto one = user->open("INBOX", false).value();
  auto two = user->open("INBOX", false).value();
  Modseq before = one->highest_modseq();

  auto stored = one->store({2}, StoreMode::add, Flags{fl::seen | fl::answered, {"Todo"}});
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->changed, std::vector<Uid>{2});
  // Delivered files sit in new/; a flag change moves them to cur/ with the flags.
  auto cur = files_in(user->root() / "cur");
  ASSERT_EQ(cur.size(), 1u);
  EXPECT_TRUE(cur[0].ends_with(":2,RSa")) << cur[0];

  auto update = two->refresh(true);
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->flags_changed, std::vector<Uid>{2});
  EXPECT_TRUE(update->expunged.empty());
  EXPECT_GT(two->highest_modseq(), before);
  auto info = two->messages({2}).value();
  EXPECT_EQ(info[0].system_flags, fl::seen | fl::answered);
  EXPECT_EQ(info[0].keywords, std::vector<std::string>{"Todo"});
  EXPECT_GT(info[0].modseq, before);

  // UNCHANGEDSINCE older than the message's MODSEQ: refused, nothing changed (RFC 7162 §3.1.3).
  auto conditional = one->store({1, 2}, StoreMode::add, Flags{fl::flagged, {}}, before);
  ASSERT_TRUE(conditional.has_value());
  EXPECT_EQ(conditional->modified, std::vector<Uid>{2});
  EXPECT_EQ(conditional->changed, std::vector<Uid>{1});
  // A STORE that changes nothing registers no new keyword.
  auto refused = one->store({2}, StoreMode::add, Flags{0, {"Never"}}, before);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->modified, std::vector<Uid>{2});
  EXPECT_TRUE(refused->changed.empty());
  ASSERT_TRUE(one->store({99}, StoreMode::add, Flags{0, {"Nobody"}}).has_value());
  ASSERT_TRUE(one->refresh(true).has_value());
  const auto known = one->keywords();
  EXPECT_EQ(std::count(known.begin(), known.end(), "Never"), 0);
  EXPECT_EQ(std::count(known.begin(), known.end(), "Nobody"), 0);
  EXPECT_EQ(std::count(known.begin(), known.end(), "Todo"), 1);

  auto removed = one->store({2}, StoreMode::remove, Flags{fl::answered, {"Todo"}});
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(one->messages({2}).value()[0].system_flags, fl::seen);
}

TEST(Storage, ExpungeAnnouncedWhenAllowed) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (const char* s : {"a", "b", "c", "d"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto one = user->open("INBOX", false).value();
  auto two = user->open("INBOX", false).value();
  ASSERT_TRUE(one->store({2, 3}, StoreMode::add, Flags{fl::deleted, {}}));
  // UID EXPUNGE of a subset (RFC 4315): only 3.
  auto gone = one->expunge(std::vector<Uid>{3, 4});
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(*gone, std::vector<Uid>{3});
  gone = one->expunge();
  EXPECT_EQ(gone.value(), std::vector<Uid>{2});
  EXPECT_EQ(files_in(user->root() / "new").size() + files_in(user->root() / "cur").size(), 2u);

  // A session in the middle of a command keeps its sequence numbers.
  auto held = two->refresh(false);
  ASSERT_TRUE(held.has_value());
  EXPECT_TRUE(held->expunged.empty());
  EXPECT_EQ(two->uids().size(), 4u);
  auto update = two->refresh(true);
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->expunged, (std::vector<std::uint32_t>{3, 2}));  // highest first
  EXPECT_EQ(update->vanished, (std::vector<Uid>{2, 3}));
  EXPECT_EQ(two->uids(), (std::vector<Uid>{1, 4}));
  EXPECT_EQ(two->sequence_of(4), 2u);
  EXPECT_FALSE(two->sequence_of(2).has_value());
  EXPECT_EQ(update->exists, 2u);
  EXPECT_EQ(user->status("INBOX")->messages, 2u);
  EXPECT_EQ(user->quota()->messages, 2u);
}

TEST(Storage, NewMessagesReachOpenViewsAndRecentGoesToOneSession) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  auto one = user->open("INBOX", false).value();
  EXPECT_EQ(one->recent_count(), 1u);
  auto two = user->open("INBOX", false).value();
  EXPECT_EQ(two->recent_count(), 0u);  // the first session claimed it
  ASSERT_TRUE(user->deliver("INBOX", new_message("b")));
  auto u2 = two->refresh(true).value();
  auto u1 = one->refresh(true).value();
  EXPECT_TRUE(u1.new_messages && u2.new_messages);
  EXPECT_EQ(u1.exists, 2u);
  EXPECT_EQ(one->uids(), (std::vector<Uid>{1, 2}));
  EXPECT_EQ(one->recent_count() + two->recent_count(), 2u);
  auto examine = user->open("INBOX", true).value();
  EXPECT_EQ(examine->uids().size(), 2u);
  EXPECT_FALSE(examine->store({1}, StoreMode::add, Flags{fl::seen, {}}).has_value());
}

// Views that show the same state of a folder keep one list of its UIDs
// between them, not 4 bytes per message each; a view that has not yet told
// its session of an expunge keeps its own, and shares again once it has.
TEST(Storage, ViewsOfOneStateShareTheirUids) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto one = user->open("INBOX", false).value();
  auto two = user->open("INBOX", true).value();
  EXPECT_EQ(one->uid_list(), two->uid_list());
  EXPECT_EQ(two->uids(), (std::vector<Uid>{1, 2, 3}));

  // A delivery: the first view to refresh makes the new list, the other takes it.
  ASSERT_TRUE(user->deliver("INBOX", new_message("d")));
  const auto before = one->uid_list();
  ASSERT_TRUE(one->refresh(true).has_value());
  ASSERT_TRUE(two->refresh(true).has_value());
  EXPECT_EQ(one->uid_list(), two->uid_list());
  EXPECT_EQ(*before, (std::vector<Uid>{1, 2, 3}));  // a holder keeps what it held
  EXPECT_EQ(two->uids(), (std::vector<Uid>{1, 2, 3, 4}));

  // An expunge that `two` may not tell yet (a command by sequence number is
  // running): its numbers stay, in a list of its own, with the arrival after it.
  ASSERT_TRUE(one->store({2}, StoreMode::add, Flags{fl::deleted, {}}));
  ASSERT_TRUE(one->expunge().has_value());
  ASSERT_TRUE(user->deliver("INBOX", new_message("e")));
  ASSERT_TRUE(one->refresh(true).has_value());
  auto held = two->refresh(false).value();
  EXPECT_TRUE(held.expunged.empty());
  EXPECT_EQ(two->uids(), (std::vector<Uid>{1, 2, 3, 4, 5}));
  EXPECT_EQ(one->uids(), (std::vector<Uid>{1, 3, 4, 5}));
  EXPECT_NE(one->uid_list(), two->uid_list());
  auto told = two->refresh(true).value();
  EXPECT_EQ(told.expunged, std::vector<std::uint32_t>{2});
  EXPECT_EQ(one->uid_list(), two->uid_list());

  // A flag change moves the folder's state, not its UIDs: a view opened
  // after it still shares the list of those opened before.
  ASSERT_TRUE(one->store({1}, StoreMode::add, Flags{fl::seen, {}}));
  ASSERT_TRUE(one->refresh(true).has_value());
  auto three = user->open("INBOX", true).value();
  EXPECT_EQ(three->uid_list(), one->uid_list());
  EXPECT_EQ(three->uids(), (std::vector<Uid>{1, 3, 4, 5}));
}

TEST(Storage, RemoveTakesExactlyTheListedMessagesWhateverTheirFlags) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (const char* s : {"a", "b", "c", "d"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto inbox = user->open("INBOX", false).value();
  auto other = user->open("INBOX", false).value();
  ASSERT_TRUE(inbox->store({4}, StoreMode::add, Flags{fl::deleted, {}}));
  // Unsorted, repeated, and one UID that never existed: only 1 and 3 go;
  // 4 stays although it is \Deleted (it was not listed).
  auto gone = inbox->remove({3, 1, 3, 9});
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(*gone, (std::vector<Uid>{1, 3}));
  EXPECT_EQ(files_in(user->root() / "new").size() + files_in(user->root() / "cur").size(), 2u);
  EXPECT_EQ(inbox->remove({1}).value(), std::vector<Uid>{});  // gone already: not an error
  auto update = other->refresh(true);
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->vanished, (std::vector<Uid>{1, 3}));
  EXPECT_EQ(user->status("INBOX")->messages, 2u);
  EXPECT_EQ(user->quota()->messages, 2u);
  auto read_only = user->open("INBOX", true).value();
  EXPECT_EQ(read_only->remove({2}).error().kind, ErrorKind::not_possible);
}

TEST(Storage, CopyAndMoveReportUids) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->create("Archive"));
  for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto inbox = user->open("INBOX", false).value();
  ASSERT_TRUE(inbox->store({1}, StoreMode::add, Flags{fl::flagged, {"Keep"}}));
  auto copied = inbox->copy({1, 2}, "Archive", false);
  ASSERT_TRUE(copied.has_value());
  EXPECT_EQ(copied->source, (std::vector<Uid>{1, 2}));
  EXPECT_EQ(copied->destination, (std::vector<Uid>{1, 2}));
  auto moved = inbox->copy({3}, "Archive", true);
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->destination, std::vector<Uid>{3});
  EXPECT_EQ(user->status("INBOX")->messages, 2u);
  auto archive = user->open("Archive", false).value();
  auto infos = archive->messages({1, 3}).value();
  EXPECT_EQ(infos[0].system_flags, fl::flagged);
  EXPECT_EQ(infos[0].keywords, std::vector<std::string>{"Keep"});
  EXPECT_EQ(infos[1].system_flags, 0u);  // \Deleted of the move did not travel
  EXPECT_FALSE(inbox->copy({1}, "Nowhere", false).has_value());
}

TEST(Storage, CopyHardLinksAndSurvivesTheSourcesExpunge) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->create("Archive"));
  ASSERT_TRUE(user->deliver("INBOX", new_message("linked")));
  auto inbox = user->open("INBOX", false).value();
  auto copied = inbox->copy({1}, "Archive", false);
  ASSERT_TRUE(copied.has_value());
  // The copy is the same inode: no bytes written, nothing to fsync but the directory.
  auto inode_of = [](const std::filesystem::path& folder) {
    for (const auto& sub : {"new", "cur"})
      for (const auto& e : std::filesystem::directory_iterator(folder / sub)) {
        struct stat st{};
        ::stat(e.path().c_str(), &st);
        return std::pair<ino_t, nlink_t>{st.st_ino, st.st_nlink};
      }
    return std::pair<ino_t, nlink_t>{0, 0};
  };
  auto [source_inode, links] = inode_of(user->root());
  EXPECT_EQ(inode_of(user->root() / ".Archive").first, source_inode);
  EXPECT_EQ(links, 2u);
  ASSERT_TRUE(inbox->store({1}, StoreMode::add, Flags{fl::deleted, {}}));
  ASSERT_TRUE(inbox->expunge());
  auto archive = user->open("Archive", false).value();
  EXPECT_EQ(archive->read(copied->destination[0]).value(), testing::message("linked"));
  EXPECT_EQ(archive->messages({copied->destination[0]}).value()[0].internal_date, 1772445600);
}

TEST(Storage, CrashLeftoversInTmpAreRemovedWhenStale) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  Folder inbox(store.config(), std::make_shared<DiskReserve>(dir.path() / ".roost-reserve", 0), user->root(),
               user->root(), "INBOX");
  testing::write_file(user->root() / "tmp" / "1700000000.Mleft.behind", "half a mess");
  EXPECT_EQ(inbox.remove_stale_tmp(std::chrono::hours(36)), 0u);  // young: may still be written
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(inbox.remove_stale_tmp(std::chrono::seconds(1)), 1u);
  EXPECT_TRUE(files_in(user->root() / "tmp").empty());
}

TEST(Storage, FoldersCreateRenameDeleteSubscribe) {
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.default_folders = {{"Drafts", SpecialUse::drafts}, {"Sent", SpecialUse::sent}, {"Trash", SpecialUse::trash}};
  Store store(config);
  auto user = open_user(store);
  auto listed = user->list().value();
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0].name, "INBOX");
  EXPECT_EQ(listed[1].name, "Drafts");
  EXPECT_EQ(listed[1].use, SpecialUse::drafts);
  EXPECT_TRUE(listed[1].subscribed);

  ASSERT_TRUE(user->create("Projects/Roost/Notes"));  // superiors created too
  EXPECT_TRUE(std::filesystem::is_directory(user->root() / ".Projects.Roost" / "cur"));
  EXPECT_EQ(user->create("Projects").error().kind, ErrorKind::exists);
  EXPECT_EQ(user->create("inbox").error().kind, ErrorKind::exists);
  ASSERT_TRUE(user->deliver("Projects/Roost/Notes", new_message("n")));
  ASSERT_TRUE(user->subscribe("Projects/Roost/Notes", true));

  ASSERT_TRUE(user->rename("Projects", "Work/Old"));
  auto names = user->list().value();
  std::set<std::string> all;
  for (const auto& f : names) all.insert(f.name);
  EXPECT_TRUE(all.contains("Work/Old/Roost/Notes"));
  EXPECT_FALSE(all.contains("Projects"));
  auto notes = std::find_if(names.begin(), names.end(), [](const FolderInfo& f) { return f.name == "Work/Old/Roost/Notes"; });
  EXPECT_TRUE(notes->subscribed);
  EXPECT_EQ(user->status("Work/Old/Roost/Notes")->messages, 1u);
  EXPECT_EQ(user->rename("Work", "Work/Inside").error().kind, ErrorKind::not_possible);

  EXPECT_EQ(user->remove("Work/Old").error().kind, ErrorKind::has_children);
  EXPECT_EQ(user->remove("INBOX").error().kind, ErrorKind::not_possible);
  EXPECT_EQ(user->remove("Nope").error().kind, ErrorKind::not_found);
  ASSERT_TRUE(user->remove("Work/Old/Roost/Notes"));
  EXPECT_FALSE(std::filesystem::exists(user->root() / ".Work.Old.Roost.Notes"));
  EXPECT_EQ(user->status("Work/Old/Roost/Notes").error().kind, ErrorKind::not_found);
  // Made again under the same name: nothing of the old folder's counters remains.
  ASSERT_TRUE(user->create("Work/Old/Roost/Notes"));
  EXPECT_EQ(user->status("Work/Old/Roost/Notes")->messages, 0u);
}

TEST(Storage, StatusComesFromTheUserIndexWithoutOpeningFolders) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (int i = 0; i < 20; ++i) {
    std::string name = "F" + std::to_string(i);
    ASSERT_TRUE(user->create(name));
    ASSERT_TRUE(user->deliver(name, new_message(name)));
  }
  auto view = user->open("F3", false).value();
  ASSERT_TRUE(view->store({1}, StoreMode::add, Flags{fl::seen | fl::deleted, {}}));
  view.reset();
  // Idle folder indexes closed: STATUS must not need them.
  index::EnvRegistry::instance().set_keep_idle(0);
  std::size_t open_before = index::EnvRegistry::instance().open_count();
  for (int i = 0; i < 20; ++i) {
    auto status = user->status("F" + std::to_string(i)).value();
    EXPECT_EQ(status.messages, 1u);
    EXPECT_EQ(status.unseen, i == 3 ? 0u : 1u);
    EXPECT_EQ(status.deleted, i == 3 ? 1u : 0u);
    EXPECT_EQ(status.uidnext, 2u);
  }
  EXPECT_LE(index::EnvRegistry::instance().open_count(), open_before + 1);  // the user index only
  // A foreign file in new/ makes the cached entry stale: counted again.
  testing::write_file(user->root() / ".F5" / "new" / "1900000000.Mforeign.x", testing::message("x"));
  ::utimensat(AT_FDCWD, (user->root() / ".F5" / "new").c_str(), nullptr, 0);
  EXPECT_EQ(user->status("F5")->messages, 2u);
  index::EnvRegistry::instance().set_keep_idle(256);
}

// The registry keeps the most recently used idle indexes open and closes
// the others; using one again makes it the most recent.
TEST(Storage, IndexRegistryClosesTheLeastRecentlyUsedIdleIndexes) {
  TempDir dir;
  auto& registry = index::EnvRegistry::instance();
  registry.set_keep_idle(2);
  auto open = [&](const char* name) {
    auto env = registry.open(dir.path() / name, index::folder_env_options());
    EXPECT_TRUE(env.has_value());
    return env ? std::weak_ptr<index::Env>(*env) : std::weak_ptr<index::Env>();
  };
  // Each one opened is counted idle only from the next opening on.
  auto a = open("a");
  auto b = open("b");
  auto c = open("c");
  EXPECT_FALSE(a.expired() || b.expired() || c.expired());
  EXPECT_EQ(open("a").lock(), a.lock());  // the same, now the most recent
  auto d = open("d");
  EXPECT_TRUE(b.expired());
  EXPECT_FALSE(a.expired() || c.expired() || d.expired());
  registry.set_keep_idle(256);
}

TEST(Storage, RenamingInboxMovesItsMessages) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->create("INBOX/Sub"));
  for (const char* s : {"a", "b"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto inbox = user->open("INBOX", false).value();
  ASSERT_TRUE(inbox->store({2}, StoreMode::add, Flags{fl::seen, {"Kept"}}));
  // RFC 9051 §6.3.6: the messages move, INBOX stays (empty), its children stay.
  ASSERT_TRUE(user->rename("INBOX", "Old Inbox"));
  EXPECT_EQ(user->status("INBOX")->messages, 0u);
  EXPECT_EQ(user->status("Old Inbox")->messages, 2u);
  EXPECT_TRUE(user->status("INBOX/Sub").has_value());
  auto old = user->open("Old Inbox", false).value();
  auto infos = old->messages(old->uids()).value();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[1].system_flags, fl::seen);
  EXPECT_EQ(infos[1].keywords, std::vector<std::string>{"Kept"});
  EXPECT_EQ(user->rename("INBOX", "Old Inbox").error().kind, ErrorKind::exists);
}

TEST(Storage, AnnotationsFollowTheirFolder) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->create("Work/Old"));
  auto set = [&](std::string_view folder, std::string name, std::optional<std::string> value) {
    return user->annotate(folder, {AnnotationChange{std::move(name), std::move(value)}}, 3);
  };
  auto names = [&](std::string_view folder) {
    std::vector<std::string> out;
    auto entries = user->annotations(folder);
    EXPECT_TRUE(entries) << folder;
    if (entries)
      for (const auto& a : *entries) out.push_back(a.name + "=" + a.value);
    return out;
  };
  ASSERT_TRUE(set("Work", "/private/comment", std::string("a\0b\r\nc", 6)));
  ASSERT_TRUE(set("Work", "/shared/comment", "shared"));
  ASSERT_TRUE(set("", "/private/vendor/x/y", "account"));
  // Names compare without regard to case; the last spelling is kept.
  ASSERT_TRUE(set("Work", "/PRIVATE/Comment", "again"));
  EXPECT_EQ(names("Work"), (std::vector<std::string>{"/PRIVATE/Comment=again", "/shared/comment=shared"}));
  EXPECT_EQ(names(""), std::vector<std::string>{"/private/vendor/x/y=account"});
  EXPECT_TRUE(names("Work/Old").empty());
  // Binary values survive the file.
  ASSERT_TRUE(set("Work/Old", "/private/bin", std::string("\0\xff\n", 3)));
  EXPECT_EQ(user->annotations("Work/Old").value()[0].value, std::string("\0\xff\n", 3));
  // All or nothing: the third change would make four entries.
  auto refused = user->annotate("Work", {AnnotationChange{"/shared/comment", std::nullopt},
                                         AnnotationChange{"/private/a", "1"}, AnnotationChange{"/private/b", "2"},
                                         AnnotationChange{"/private/c", "3"}},
                                3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::limit);
  EXPECT_EQ(names("Work").size(), 2u);
  EXPECT_EQ(user->annotations("Nowhere").error().kind, ErrorKind::not_found);
  EXPECT_EQ(set("Nowhere", "/private/comment", "x").error().kind, ErrorKind::not_found);
  // RENAME carries a folder's annotations and its children's (RFC 5464 §4.1).
  ASSERT_TRUE(user->rename("Work", "Job"));
  EXPECT_EQ(names("Job").size(), 2u);
  EXPECT_EQ(user->annotations("Job/Old").value().size(), 1u);
  // DELETE takes them away: a new folder of the same name starts bare.
  ASSERT_TRUE(user->remove("Job/Old"));
  ASSERT_TRUE(user->create("Job/Old"));
  EXPECT_TRUE(names("Job/Old").empty());
  // Renaming INBOX leaves its annotations and copies them to the new folder.
  ASSERT_TRUE(set("INBOX", "/private/comment", "inbox"));
  ASSERT_TRUE(user->rename("INBOX", "Before"));
  EXPECT_EQ(names("INBOX"), std::vector<std::string>{"/private/comment=inbox"});
  EXPECT_EQ(names("Before"), std::vector<std::string>{"/private/comment=inbox"});
  EXPECT_EQ(names(""), std::vector<std::string>{"/private/vendor/x/y=account"});
}

TEST(Storage, HostileFolderNamesNeverLeaveTheMaildir) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  const std::vector<std::string> hostile{"../../escape", "..", "a/../../b", "/abs", "x/.", std::string("nul\0x", 5),
                                         "tab\there", "\xff\xfe", "a.b", "c1\xc2\x85", "line\xe2\x80\xa8sep"};
  for (const std::string& name : hostile) {
    auto made = user->create(name);
    ASSERT_FALSE(made.has_value()) << name;
    EXPECT_EQ(made.error().kind, ErrorKind::bad_name) << name;
    EXPECT_FALSE(user->open(name, false).has_value());
    EXPECT_FALSE(user->deliver(name, new_message("x")).has_value());
  }
  // Nothing appeared beside the user's maildir.
  EXPECT_EQ(files_in(dir.path()), std::vector<std::string>{"alice@example.org"});
  EXPECT_FALSE(store.open_user("../bob").has_value());
  EXPECT_FALSE(store.open_user("a/b").has_value());
  EXPECT_FALSE(store.open_user("").has_value());
}

TEST(Storage, ForeignChangesAreSynced) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (const char* s : {"a", "b"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto view = user->open("INBOX", false).value();
  ASSERT_TRUE(view->store({1, 2}, StoreMode::add, Flags{fl::seen, {}}));
  ASSERT_TRUE(view->refresh(true));
  // Another delivery agent drops a file into new/; a mail reader marks a
  // message flagged by renaming it, and deletes the other.
  testing::write_file(user->root() / "new" / "1800000000.Mforeign.host", testing::message("foreign"));
  auto cur = files_in(user->root() / "cur");
  ASSERT_EQ(cur.size(), 2u);
  // cur[0] is message "a" (UID 1): names of one second do not sort by time.
  if (testing::read_text(user->root() / "cur" / cur[0]) != testing::message("a")) std::swap(cur[0], cur[1]);
  std::filesystem::rename(user->root() / "cur" / cur[0], user->root() / "cur" / (cur[0].substr(0, cur[0].find(':')) + ":2,FS"));
  std::filesystem::remove(user->root() / "cur" / cur[1]);
  // Directory times may not move within one clock tick; a full sync is what
  // the periodic check does.
  auto update = view->refresh(true);
  ASSERT_TRUE(update.has_value());
  if (!update->new_messages) {
    ASSERT_TRUE(user->rebuild_index("INBOX"));
    update = view->refresh(true);
  }
  EXPECT_TRUE(update->new_messages);
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 3}));
  EXPECT_EQ(view->messages({1}).value()[0].system_flags, fl::seen | fl::flagged);
  EXPECT_EQ(view->read(3).value(), testing::message("foreign"));
  EXPECT_TRUE(user->verify_index("INBOX").value().empty());
}

// A foreign change that leaves a directory's time as it was (two changes in
// one clock tick) is invisible to the cheap check; the periodic full sync
// finds it, in the background, while sessions go on with what they have.
TEST(Storage, ChangesThatKeepTheDirectoryTimeAreFoundByTheBackgroundFullSync) {
  TempDir dir;
  StoreConfig rare = testing::test_config(dir.path());
  rare.full_sync_interval = std::chrono::hours(1);
  Store store(rare);
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  auto view = user->open("INBOX", false).value();
  const auto new_dir = user->root() / "new";
  struct stat before{};
  ASSERT_EQ(::stat(new_dir.c_str(), &before), 0);
  testing::write_file(new_dir / "1800000000.Mforeign.host", testing::message("foreign"));
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, new_dir.c_str(), times, 0), 0);
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1}));  // not due: nothing lists the directory

  StoreConfig often = testing::test_config(dir.path());
  often.full_sync_interval = std::chrono::milliseconds(0);
  Store other(often);
  auto other_user = open_user(other);
  auto other_view = other_user->open("INBOX", false).value();
  bool found = false;
  for (int i = 0; i < 500 && !found; ++i) {
    ASSERT_TRUE(other_view->refresh(true));
    found = other_view->uids() == std::vector<Uid>{1, 2};
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(found);
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 2}));
  EXPECT_EQ(view->read(2).value(), testing::message("foreign"));
}

// A view of a folder that another session deleted or renamed says so, and
// nothing it does brings the folder back (a refresh used to recreate the
// directories at the old name).
TEST(Storage, ViewOfARemovedFolderNeverRecreatesIt) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->create("Old"));
  ASSERT_TRUE(user->create("Doomed"));
  NewMessage m;
  m.data = "Subject: x\r\n\r\nbody\r\n";
  ASSERT_TRUE(user->append("Old", {m}));
  auto renamed = user->open("Old", false).value();
  auto deleted = user->open("Doomed", false).value();
  ASSERT_TRUE(user->rename("Old", "New"));
  ASSERT_TRUE(user->remove("Doomed"));
  EXPECT_EQ(renamed->refresh(true).error().kind, ErrorKind::not_found);
  EXPECT_EQ(deleted->refresh(true).error().kind, ErrorKind::not_found);
  EXPECT_EQ(renamed->store(renamed->uids(), StoreMode::add, Flags{fl::seen, {}}).error().kind, ErrorKind::not_found);
  EXPECT_EQ(renamed->expunge().error().kind, ErrorKind::not_found);
  auto names = user->list().value();
  std::set<std::string> listed;
  for (const auto& f : names) listed.insert(f.name);
  EXPECT_FALSE(listed.contains("Old"));
  EXPECT_FALSE(listed.contains("Doomed"));
  EXPECT_TRUE(listed.contains("New"));
  // A new folder of the old name is another folder: the old view must not
  // take it for its own.
  ASSERT_TRUE(user->create("Doomed"));
  EXPECT_EQ(deleted->refresh(true).error().kind, ErrorKind::not_possible);
}

// RFC 9051 §2.3.1.1: a folder deleted and made again under the same name
// must not reuse the old UIDVALIDITY, however fast that happens (it was the
// time in seconds alone).
TEST(Storage, FolderMadeAgainGetsANewUidValidity) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  std::uint32_t previous = 0;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(user->create("Again"));
    std::uint32_t uidvalidity = user->open("Again", false).value()->uidvalidity();
    EXPECT_GT(uidvalidity, previous) << "round " << round;
    previous = uidvalidity;
    ASSERT_TRUE(user->remove("Again"));
  }
  ASSERT_TRUE(user->create("Other"));
  EXPECT_GT(user->open("Other", false).value()->uidvalidity(), previous);
}

TEST(Storage, IndexDeletedMidSessionIsRebuiltIdentically) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(user->deliver("INBOX", new_message("m" + std::to_string(i))));
  auto view = user->open("INBOX", false).value();
  ASSERT_TRUE(view->store({3, 5}, StoreMode::add, Flags{fl::seen, {"Red"}}));
  ASSERT_TRUE(view->store({7}, StoreMode::add, Flags{fl::deleted, {}}));
  ASSERT_TRUE(view->expunge());
  ASSERT_TRUE(view->refresh(true));
  auto before = view->messages(view->uids()).value();
  std::uint32_t uidvalidity = view->uidvalidity();
  Modseq modseq = view->highest_modseq();

  std::filesystem::remove_all(user->root() / "roost-index");
  index::EnvRegistry::instance().forget(user->root() / "roost-index");
  ASSERT_TRUE(user->rebuild_index("INBOX"));

  auto again = user->open("INBOX", false).value();
  EXPECT_EQ(again->uidvalidity(), uidvalidity);
  EXPECT_EQ(again->uids(), view->uids());
  EXPECT_GE(again->highest_modseq(), modseq);  // MODSEQ never goes back
  auto after = again->messages(again->uids()).value();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].uid, before[i].uid);
    EXPECT_EQ(after[i].system_flags, before[i].system_flags);
    EXPECT_EQ(after[i].keywords, before[i].keywords);
  }
  EXPECT_EQ(again->uidnext(), 21u);
  ASSERT_TRUE(user->deliver("INBOX", new_message("next")));
  ASSERT_TRUE(again->refresh(true));
  EXPECT_EQ(again->uids().back(), 21u);  // never reuses a UID
  EXPECT_TRUE(user->verify_index("INBOX").value().empty());
}

TEST(Storage, DovecotMaildirKeepsItsUids) {
  TempDir dir;
  auto root = dir.path() / "carol";
  for (const char* sub : {"cur", "new", "tmp"}) std::filesystem::create_directories(root / sub);
  // A maildir as Dovecot leaves it: UIDs with gaps, a keyword, one message
  // still in new/, one the uidlist does not know yet.
  testing::write_file(root / "dovecot-uidlist", "3 V1234567 N42 G00112233445566778899aabbccddeeff\n"
                                                "7 :1700000001.M1P1.mx,S=200,W=210\n"
                                                "19 S300 W310 :1700000002.M2P1.mx\n"
                                                "41 :1700000003.M3P1.mx\n");
  testing::write_file(root / "dovecot-keywords", "0 $Label1\n1 Important\n");
  testing::write_file(root / "cur" / "1700000001.M1P1.mx,S=200,W=210:2,RSb", testing::message("seven"));
  testing::write_file(root / "cur" / "1700000002.M2P1.mx:2,", testing::message("nineteen"));
  testing::write_file(root / "new" / "1700000003.M3P1.mx", testing::message("fortyone"));
  testing::write_file(root / "new" / "1700000004.M4P1.mx", testing::message("unlisted"));

  Store store(testing::test_config(dir.path()));
  auto user = open_user(store, "carol");
  auto view = user->open("INBOX", false).value();
  EXPECT_EQ(view->uidvalidity(), 1234567u);
  EXPECT_EQ(view->uids(), (std::vector<Uid>{7, 19, 41, 42}));
  auto infos = view->messages({7}).value();
  EXPECT_EQ(infos[0].system_flags, fl::answered | fl::seen);
  EXPECT_EQ(infos[0].keywords, std::vector<std::string>{"Important"});
  EXPECT_EQ(view->read(41).value(), testing::message("fortyone"));
  ASSERT_TRUE(user->deliver("INBOX", new_message("new")));
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids().back(), 43u);
  // And back: the UID list still says what Dovecot needs.
  std::string uidlist = testing::read_text(root / "dovecot-uidlist");
  EXPECT_TRUE(uidlist.starts_with("3 V1234567 N42 G00112233445566778899aabbccddeeff\n"));
  EXPECT_NE(uidlist.find("\n42 :1700000004.M4P1.mx\n"), std::string::npos);
  EXPECT_NE(uidlist.find("\n43 :"), std::string::npos);
  // Dovecot's mailbox GUID is the folder's MAILBOXID (RFC 8474).
  EXPECT_EQ(view->mailbox_id().value(), "F00112233445566778899aabbccddeeff");
  EXPECT_EQ(user->mailbox_id("INBOX").value(), "F00112233445566778899aabbccddeeff");
}

// Taking over (or rebuilding the index of) a folder of thousands: the full
// sync imports in rounds of 500, and the UID list's lines of the files of
// later rounds must stay theirs (a rewrite after the first round dropped
// them, and 2,100 of 2,600 messages got new UIDs).
TEST(Storage, TakeoverOfThousandsKeepsEveryUid) {
  TempDir dir;
  auto root = dir.path() / "carol";
  for (const char* sub : {"cur", "new", "tmp"}) std::filesystem::create_directories(root / sub);
  constexpr int kMessages = 2600;
  std::string uidlist = "3 V1796669162 N" + std::to_string(3 * kMessages + 1) + " G00112233445566778899aabbccddeeff\n";
  std::vector<Uid> expected;
  for (int i = 0; i < kMessages; ++i) {
    const std::string key = std::to_string(1700000000 + i) + ".M" + std::to_string(i) + "P1.mx";
    const Uid uid = 3 * static_cast<Uid>(i) + 1;  // gaps: a new UID could not pass for the old one
    uidlist += std::to_string(uid) + " :" + key + "\n";
    expected.push_back(uid);
    testing::write_file(root / "cur" / (key + ":2,S"), testing::message("m" + std::to_string(i)));
  }
  testing::write_file(root / "dovecot-uidlist", uidlist);

  Store store(testing::test_config(dir.path()));
  auto user = open_user(store, "carol");
  {
    auto view = user->open("INBOX", false).value();
    EXPECT_EQ(view->uidvalidity(), 1796669162u);
    EXPECT_EQ(view->uids(), expected);
  }
  // And again from nothing: a rebuilt index has the same UIDs.
  std::filesystem::remove_all(root / "roost-index");
  index::EnvRegistry::instance().forget(root / "roost-index");
  ASSERT_TRUE(user->rebuild_index("INBOX"));
  auto again = user->open("INBOX", false).value();
  EXPECT_EQ(again->uids(), expected);
  EXPECT_EQ(again->uidnext(), static_cast<Uid>(3 * kMessages + 1));
  EXPECT_TRUE(user->verify_index("INBOX").value().empty());
}

TEST(Storage, CourierUidListGetsAMailboxGuidOnce) {
  TempDir dir;
  auto root = dir.path() / "dave";
  for (const char* sub : {"cur", "new", "tmp"}) std::filesystem::create_directories(root / sub);
  testing::write_file(root / "dovecot-uidlist", "1 1234 3\n1 1700000001.M1P1.mx\n2 1700000002.M2P1.mx\n");
  testing::write_file(root / "cur" / "1700000001.M1P1.mx:2,S", testing::message("one"));
  testing::write_file(root / "cur" / "1700000002.M2P1.mx:2,", testing::message("two"));
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store, "dave");
  auto view = user->open("INBOX", false).value();
  auto id = view->mailbox_id();
  ASSERT_TRUE(id.has_value()) << id.error().detail;
  EXPECT_EQ(id->size(), 33u);
  EXPECT_EQ(user->mailbox_id("INBOX").value(), *id);
  std::string uidlist = testing::read_text(root / "dovecot-uidlist");
  EXPECT_TRUE(uidlist.starts_with("3 V1234 N3 G" + id->substr(1) + "\n")) << uidlist;
  // The UIDs stay; the index still agrees with the rewritten list.
  ASSERT_TRUE(user->deliver("INBOX", new_message("three")));
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 2, 3}));
}

TEST(Storage, ConcurrentDeliveriesGetDistinctUids) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("first")));
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::vector<Uid>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto mine = store.open_user("alice@example.org").value();
      for (int i = 0; i < kEach; ++i) {
        auto r = mine->deliver("INBOX", new_message("t" + std::to_string(t) + "-" + std::to_string(i)));
        if (r) got[t].push_back(r->uids[0]);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<Uid> all{1};
  for (const auto& g : got) {
    EXPECT_EQ(g.size(), static_cast<std::size_t>(kEach));
    all.insert(g.begin(), g.end());
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
  }
  EXPECT_EQ(all.size(), 1u + kThreads * kEach);
  EXPECT_EQ(*all.rbegin(), static_cast<Uid>(kThreads * kEach + 1));
  EXPECT_EQ(user->status("INBOX")->messages, 1u + kThreads * kEach);
  EXPECT_TRUE(user->verify_index("INBOX").value().empty());
}

// Dovecot (or a Roost process whose index commit was lost) lists a message
// in the UID list within the clock tick of the last sync, so that no
// directory time shows it; the next delivery takes the UID after it. That
// delivery's commit indexes the listed message too: a session that is shown
// UID 3 must already see UID 2, as clients fetch only above the highest UID
// they have seen (issue 23 item 23).
TEST(Storage, ListedMessagesBelowADeliveryAreIndexedWithIt) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  auto view = user->open("INBOX", false).value();
  ASSERT_EQ(view->uids(), (std::vector<Uid>{1}));

  const auto cur = user->root() / "cur";
  struct stat before{};
  ASSERT_EQ(::stat(cur.c_str(), &before), 0);
  testing::write_file(cur / "1800000000.Mdovecot.host:2,S", testing::message("listed by dovecot"));
  {
    std::ofstream list(user->root() / "dovecot-uidlist", std::ios::app | std::ios::binary);
    list << "2 :1800000000.Mdovecot.host\n";
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, cur.c_str(), times, 0), 0);

  auto delivered = user->deliver("INBOX", new_message("b"));
  ASSERT_TRUE(delivered);
  EXPECT_EQ(delivered->uids, (std::vector<Uid>{3}));
  ASSERT_TRUE(view->refresh(true));
  EXPECT_EQ(view->uids(), (std::vector<Uid>{1, 2, 3}));
  EXPECT_EQ(view->read(2).value(), testing::message("listed by dovecot"));
  EXPECT_EQ(view->messages({2}).value()[0].system_flags, fl::seen);
  EXPECT_TRUE(user->verify_index("INBOX").value().empty());
}

// A MOVE killed between its copy and the source's expunge is finished when
// the user is next opened (RFC 6851 §3.3): the journal of a process that is
// gone removes each source file whose hard-linked copy reached the
// destination, keeps one whose copy never got there, and a live process's
// journal is left alone. storage_crash_tests kills real processes mid-MOVE.
TEST(Storage, InterruptedMoveIsFinishedAtTheNextOpen) {
  TempDir dir;
  auto config = testing::test_config(dir.path());
  Store store(config);
  auto user = open_user(store);
  for (const char* s : {"copied", "not copied"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  ASSERT_TRUE(user->create("Dest"));
  const auto root = user->root();
  auto in_new = files_in(root / "new");
  ASSERT_EQ(in_new.size(), 2u);
  if (testing::read_text(root / "new" / in_new[0]) != testing::message("copied")) std::swap(in_new[0], in_new[1]);
  std::vector<move_journal::Source> sources;
  for (const auto& name : in_new) {
    struct stat st{};
    ASSERT_EQ(::lstat((root / "new" / name).c_str(), &st), 0);
    sources.push_back({name, st.st_ino, static_cast<std::uint64_t>(st.st_size)});
  }
  std::filesystem::create_hard_link(root / "new" / in_new[0], root / ".Dest" / "cur" / "1800000001.Mcopy.host:2,");

  // This process's journal (a move under way) first, then the same as a
  // process that has exited would have left it.
  auto live = move_journal::Journal::begin(root, config.host_name, root, root / ".Dest", sources, false);
  ASSERT_TRUE(live.has_value());
  auto again = store.open_user("alice@example.org");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(files_in(root / "new").size(), 2u);

  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ::waitpid(gone, nullptr, 0);
  std::string journal;
  for (const auto& name : files_in(root / "tmp"))
    if (name.ends_with(",move")) journal = name;
  ASSERT_FALSE(journal.empty());
  const std::string mine = "P" + std::to_string(::getpid()) + "Q";
  std::string dead = journal;
  dead.replace(dead.find(mine), mine.size(), "P" + std::to_string(gone) + "Q");
  std::filesystem::copy_file(root / "tmp" / journal, root / "tmp" / dead);

  auto reopened = store.open_user("alice@example.org");
  ASSERT_TRUE(reopened.has_value());
  EXPECT_EQ(files_in(root / "new"), std::vector<std::string>{in_new[1]});
  EXPECT_FALSE(std::filesystem::exists(root / "tmp" / dead));
  EXPECT_TRUE(std::filesystem::exists(root / "tmp" / journal));  // still the live one's
  auto inbox = (*reopened)->open("INBOX", false).value();
  EXPECT_EQ(inbox->uids(), (std::vector<Uid>{2}));
  EXPECT_EQ((*reopened)->status("Dest")->messages, 1u);
  EXPECT_EQ((*reopened)->quota()->messages, 2u);
}

TEST(Storage, QuotaRefusesWhatWouldNotFit) {
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.quota_messages = 2;
  Store store(config);
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  ASSERT_TRUE(user->deliver("INBOX", new_message("b")));
  auto refused = user->deliver("INBOX", new_message("c"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::over_quota);
  EXPECT_EQ(user->status("INBOX")->messages, 2u);
  auto usage = user->quota().value();
  EXPECT_EQ(usage.messages, 2u);
  EXPECT_EQ(usage.bytes, 2 * testing::message("a").size());
  std::string file = testing::read_text(user->root() / "maildirsize");
  EXPECT_TRUE(file.starts_with("0S,2C\n")) << file;
}

TEST(Storage, OwnQuotaLimitsReplaceTheConfiguredOnes) {
  TempDir dir;
  StoreConfig config = testing::test_config(dir.path());
  config.quota_messages = 2;
  Store store(config);
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  auto set = user->set_quota(QuotaLimits{0, 1});
  ASSERT_TRUE(set.has_value());
  EXPECT_TRUE(set->own_limits);
  EXPECT_EQ(set->messages_limit, 1u);
  EXPECT_EQ(testing::read_text(user->root() / "maildirsize").substr(0, 6), "0S,1C\n");
  EXPECT_EQ(user->deliver("INBOX", new_message("b")).error().kind, ErrorKind::over_quota);
  // No limits at all is a setting of its own: the configured 2 does not return.
  ASSERT_TRUE(user->set_quota(QuotaLimits{0, 0}));
  for (const char* s : {"b", "c"}) ASSERT_TRUE(user->deliver("INBOX", new_message(s)));
  auto reset = user->set_quota(std::nullopt);
  ASSERT_TRUE(reset.has_value());
  EXPECT_FALSE(reset->own_limits);
  EXPECT_EQ(reset->messages_limit, 2u);
  EXPECT_EQ(reset->messages, 3u);
  EXPECT_FALSE(std::filesystem::exists(user->root() / "roost-quota"));
  // A damaged limits file is ignored rather than trusted.
  testing::write_file(user->root() / "roost-quota", "12S,x\n");
  EXPECT_FALSE(user->quota()->own_limits);
}

// Sessions adding keywords the folder has never seen, at the same time:
// each gets a number of its own in dovecot-keywords, and every message has
// exactly the keywords stored on it (a race once stored the wrong one).
TEST(Storage, KeywordsAddedAtOnceAreNeverConfused) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  constexpr int kSessions = 4, kRounds = 6;  // 24 keywords: a maildir has 26 letters for them
  for (int i = 0; i < kSessions; ++i) ASSERT_TRUE(user->deliver("INBOX", new_message("m" + std::to_string(i))));
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> sessions;
    std::atomic<int> ready{0};
    for (int t = 0; t < kSessions; ++t) {
      sessions.emplace_back([&, t] {
        auto view = user->open("INBOX", false).value();
        ++ready;
        while (ready < kSessions) std::this_thread::yield();
        auto stored = view->store({static_cast<Uid>(t + 1)}, StoreMode::add,
                                  Flags{0, {"K" + std::to_string(round) + "_" + std::to_string(t)}});
        EXPECT_TRUE(stored.has_value()) << stored.error().detail;
      });
    }
    for (auto& s : sessions) s.join();
  }
  auto view = user->open("INBOX", false).value();
  const auto messages = view->messages(view->uids()).value();
  for (const auto& m : messages) {
    std::set<std::string> expected;
    for (int round = 0; round < kRounds; ++round)
      expected.insert("K" + std::to_string(round) + "_" + std::to_string(m.uid - 1));
    EXPECT_EQ(std::set<std::string>(m.keywords.begin(), m.keywords.end()), expected) << "UID " << m.uid;
  }
}

TEST(Storage, KeywordLimitIsAnError) {
  TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = open_user(store);
  ASSERT_TRUE(user->deliver("INBOX", new_message("a")));
  auto view = user->open("INBOX", false).value();
  std::vector<std::string> many;
  for (int i = 0; i < 26; ++i) many.push_back("k" + std::to_string(i));
  ASSERT_TRUE(view->store({1}, StoreMode::add, Flags{0, many}));
  auto over = view->store({1}, StoreMode::add, Flags{0, {"one-too-many"}});
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().kind, ErrorKind::limit);
}

}  // namespace
}  // namespace roost::storage

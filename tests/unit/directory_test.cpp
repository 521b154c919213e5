// The directory's embedded engine: users with credentials and routes,
// shards, compare-and-set on the route's generation, placement by weight,
// and records written before routes existed.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "roost/core/base64.hpp"
#include "roost/directory/directory.hpp"

namespace roost::directory {
namespace {

namespace fs = std::filesystem;

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("roost-directory-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto opened = open_lmdb(dir_, true);
    ASSERT_TRUE(opened) << opened.error();
    directory_ = std::move(*opened);
  }
  void TearDown() override {
    directory_.reset();
    fs::remove_all(dir_);
  }

  User user(const std::string& name, const std::string& shard = "") {
    auto record = make_user_record(name, "a password", ScramSettings{.iterations = 4096});
    EXPECT_TRUE(record) << record.error();
    User u;
    u.credentials = *record;
    u.route.shard = shard;
    return u;
  }

  fs::path dir_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(DirectoryTest, UsersKeepCredentialsAndRoutes) {
  ASSERT_TRUE(directory_->put_shard(Shard{.id = "shard1", .imap = "10.0.0.1:143"}));
  ASSERT_TRUE(directory_->add(user("Alice", "shard1")));
  ASSERT_TRUE(directory_->add(user("bob")));
  EXPECT_FALSE(directory_->add(user("ALICE")));  // the canonical name exists

  auto alice = directory_->user("aLiCe").value();
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->credentials.name, "alice");
  EXPECT_EQ(alice->route.shard, "shard1");
  EXPECT_EQ(alice->route.state, UserState::active);
  EXPECT_EQ(alice->route.generation, 1u);
  EXPECT_TRUE(verify_password_hash("a password", alice->credentials.password_hash));
  // The credential view authentication uses.
  auto found = directory_->find("alice").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->scram_sha256, alice->credentials.scram_sha256);
  EXPECT_FALSE(directory_->find("carol").value());
  EXPECT_FALSE(directory_->find("no/such name").value());

  EXPECT_EQ(directory_->users().value(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(directory_->users("shard1").value(), (std::vector<std::string>{"alice"}));
  EXPECT_EQ(directory_->users("").value(), (std::vector<std::string>{"bob"}));

  // A new password keeps the route.
  auto renewed = make_user_record("alice", "another password", ScramSettings{.iterations = 4096});
  ASSERT_TRUE(directory_->replace_credentials(*renewed));
  alice = directory_->user("alice").value();
  EXPECT_TRUE(verify_password_hash("another password", alice->credentials.password_hash));
  EXPECT_EQ(alice->route.shard, "shard1");
  EXPECT_FALSE(directory_->replace_credentials(user("carol").credentials));
  ASSERT_TRUE(directory_->remove("bob"));
  EXPECT_FALSE(directory_->user("bob").value());
  EXPECT_FALSE(directory_->remove("bob"));
}

// The generation is a fencing token: a change written over a generation
// that is no longer the user's loses (PROXY.md §9.4), whoever comes second.
TEST_F(DirectoryTest, RouteChangesAreCompareAndSet) {
  for (const char* id : {"shard1", "shard2"}) ASSERT_TRUE(directory_->put_shard(Shard{.id = id}));
  ASSERT_TRUE(directory_->add(user("alice", "shard1")));
  Route moving{.shard = "shard2", .state = UserState::moving, .delay_until = 1800000000};
  EXPECT_TRUE(directory_->set_route("alice", 1, moving).value());
  EXPECT_FALSE(directory_->set_route("alice", 1, Route{.shard = "shard1"}).value());
  auto alice = directory_->user("alice").value();
  EXPECT_EQ(alice->route.shard, "shard2");
  EXPECT_EQ(alice->route.state, UserState::moving);
  EXPECT_EQ(alice->route.generation, 2u);
  EXPECT_EQ(alice->route.delay_until, 1800000000);
  EXPECT_FALSE(directory_->set_route("nobody", 1, moving));
  EXPECT_FALSE(directory_->set_route("alice", 2, Route{.shard = "Bad Shard"}));

  // Two movers at once: exactly one wins each round.
  std::atomic<int> wins{0};
  std::vector<std::thread> movers;
  for (int t = 0; t < 4; ++t) {
    movers.emplace_back([&, t] {
      auto opened = directory_->user("alice").value();
      if (directory_->set_route("alice", opened->route.generation, Route{.shard = t % 2 ? "shard1" : "shard2"})
              .value_or(false))
        ++wins;
    });
  }
  for (auto& m : movers) m.join();
  EXPECT_GE(wins.load(), 1);
  EXPECT_EQ(directory_->user("alice").value()->route.generation, 2u + static_cast<unsigned>(wins.load()));
}

TEST_F(DirectoryTest, ShardsAndPlacementByWeight) {
  EXPECT_FALSE(directory_->put_shard(Shard{.id = "Shard One"}));
  ASSERT_TRUE(directory_->put_shard(Shard{.id = "a", .imap = "10.0.0.1:143", .lmtp = "10.0.0.1:24", .weight = 100}));
  ASSERT_TRUE(directory_->put_shard(Shard{.id = "b", .weight = 300}));
  ASSERT_TRUE(directory_->put_shard(Shard{.id = "c", .state = ShardState::down, .weight = 1000}));
  auto shards = directory_->shards().value();
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[0].id, "a");
  EXPECT_EQ(shards[0].imap, "10.0.0.1:143");
  EXPECT_EQ(shards[0].lmtp, "10.0.0.1:24");
  EXPECT_EQ(shards[2].state, ShardState::down);

  // 40 new users: b has three times a's weight, c is down.
  std::map<std::string, std::size_t> counts;
  for (int i = 0; i < 40; ++i) ++counts[place(shards, counts).value()];
  EXPECT_EQ(counts["a"], 10u);
  EXPECT_EQ(counts["b"], 30u);
  EXPECT_EQ(counts.count("c"), 0u);
  shards[0].state = shards[1].state = ShardState::draining;
  EXPECT_FALSE(place(shards, counts));

  ASSERT_TRUE(directory_->add(user("alice", "a")));
  ASSERT_TRUE(directory_->add(user("bob", "a")));
  ASSERT_TRUE(directory_->add(user("local")));
  EXPECT_EQ(directory_->users_per_shard().value(), (std::map<std::string, std::size_t>{{"", 1}, {"a", 2}}));
  EXPECT_FALSE(directory_->remove_shard("a"));  // alice is still there
  ASSERT_TRUE(directory_->remove_shard("c"));
  EXPECT_EQ(directory_->shards().value().size(), 2u);
  // Shards are not users.
  EXPECT_EQ(directory_->users().value(), (std::vector<std::string>{"alice", "bob", "local"}));
}

// Aliases name a user for delivery; they are never users themselves, and
// go with their user.
TEST_F(DirectoryTest, AliasesNameUsersForDelivery) {
  ASSERT_TRUE(directory_->add(user("alice")));
  ASSERT_TRUE(directory_->add(user("bob")));
  ASSERT_TRUE(directory_->add_alias("Postmaster", "alice"));
  ASSERT_TRUE(directory_->add_alias("alice@example.org", "alice"));
  EXPECT_EQ(directory_->alias_target("postmaster").value(), std::optional<std::string>("alice"));
  EXPECT_EQ(directory_->alias_target("alice").value(), std::nullopt);
  EXPECT_EQ(directory_->aliases("alice").value(), (std::vector<std::string>{"alice@example.org", "postmaster"}));
  EXPECT_FALSE(directory_->add_alias("postmaster", "bob"));  // taken
  EXPECT_FALSE(directory_->add_alias("bob", "alice"));       // a user
  EXPECT_FALSE(directory_->add_alias("x", "nobody"));        // no such user
  EXPECT_FALSE(directory_->add(user("postmaster")));         // an alias
  EXPECT_FALSE(directory_->user("postmaster").value());      // never a login name
  EXPECT_FALSE(directory_->find("postmaster").value());
  EXPECT_EQ(directory_->users().value(), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_TRUE(directory_->remove_alias("POSTMASTER"));
  EXPECT_FALSE(directory_->remove_alias("postmaster"));
  ASSERT_TRUE(directory_->remove("alice"));
  EXPECT_EQ(directory_->alias_target("alice@example.org").value(), std::nullopt);
}

// What LMTP and the socketmap deliver to, found one way for both.
TEST_F(DirectoryTest, RecipientsAreFoundAsLmtpFindsThem) {
  for (const char* name : {"a", "a+b", "carol@example.org", "dave"}) ASSERT_TRUE(directory_->add(user(name)));
  ASSERT_TRUE(directory_->add_alias("boss", "dave"));
  auto find = [&](std::string_view address) -> std::string {
    auto found = find_recipient(*directory_, address, "example.org", "+").value();
    return found ? found->user.credentials.name + "/" + found->detail : "-";
  };
  EXPECT_EQ(find("a@example.org"), "a/");
  EXPECT_EQ(find("a+b@example.org"), "a+b/");  // the whole local part first
  EXPECT_EQ(find("a+c@EXAMPLE.org"), "a/c");
  EXPECT_EQ(find("a"), "a/");
  EXPECT_EQ(find("carol"), "carol@example.org/");
  EXPECT_EQ(find("carol+x@example.org"), "carol@example.org/x");
  EXPECT_EQ(find("boss+y@example.org"), "dave/y");  // an alias delivers to its user
  EXPECT_EQ(find("a@elsewhere.test"), "-");
  EXPECT_EQ(find("nobody@example.org"), "-");
  ASSERT_TRUE(directory_->set_route("dave", 1, Route{.state = UserState::disabled}).value());
  EXPECT_EQ(find("boss@example.org"), "-");
  EXPECT_EQ(find("dave@example.org"), "-");
}

TEST_F(DirectoryTest, TheFileHoldsNoPasswordInClear) {
  auto record = make_user_record("alice", "correct horse battery", ScramSettings{.sha1 = true, .iterations = 4096});
  ASSERT_TRUE(directory_->add(User{.credentials = *record}));
  std::ifstream in(dir_ / "data.mdb", std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_NE(bytes.str().find("alice"), std::string::npos);  // the file is the right one
  EXPECT_EQ(bytes.str().find("correct horse battery"), std::string::npos);
  EXPECT_EQ(bytes.str().find(base64_encode("correct horse battery")), std::string::npos);
}

// A record written before routes existed (v1 with credentials only) is a
// user whose mail is local, and a reopened database keeps its decoy key.
TEST_F(DirectoryTest, OlderRecordsAreLocalUsers) {
  const std::string decoy = directory_->decoy_key();
  EXPECT_EQ(decoy.size(), 32u);
  directory_.reset();
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi = 0;
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    auto record = make_user_record("old", "pw", {});
    std::string text = "v1\nhash=" + record->password_hash + "\nscram-sha-1=\nscram-sha-256=" + record->scram_sha256 + "\n";
    MDB_val key{3, const_cast<char*>("old")}, value{text.size(), text.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &key, &value, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  directory_ = std::move(*open_lmdb(dir_, false));
  EXPECT_EQ(directory_->decoy_key(), decoy);
  auto old = directory_->user("old").value();
  ASSERT_TRUE(old);
  EXPECT_EQ(old->route.shard, "");
  EXPECT_EQ(old->route.generation, 1u);
  EXPECT_FALSE(old->quota);
  EXPECT_TRUE(verify_password_hash("pw", old->credentials.password_hash));
}

}  // namespace
}  // namespace roost::directory

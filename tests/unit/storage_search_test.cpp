// SEARCH, SORT and THREAD answered from the index equal what a slow
// reference that parses every message itself answers (issue 4: "results
// always equal a brute-force search").
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

#include "corpus_generator.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/message.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/sort_keys.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/index/uid_positions.hpp"
#include "roost/storage/storage.hpp"
#include "storage_test_util.hpp"

namespace roost::storage {
namespace {

namespace fl = index::flag;
using index::SearchKey;
using K = SearchKey::Kind;

struct Reference {
  Uid uid;
  std::string data;
  std::int64_t internal_date;
  std::uint32_t flags;
  std::string header_text, body_text;  // casemapped
  std::map<std::string, std::vector<std::string>> fields;  // lower name -> casemapped decoded values
  std::int64_t sent_date;
  std::string subject, from;
  std::uint64_t size;
};

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

Reference reference_of(Uid uid, const std::string& data, std::int64_t internal_date, std::uint32_t flags) {
  Reference r{uid, data, internal_date, flags, {}, {}, {}, 0, {}, {}, 0};
  mime::Message m = mime::parse(data);
  mime::SearchText text = mime::search_text(m);
  r.header_text = mime::casemap(text.headers);
  r.body_text = mime::casemap(text.body);
  for (const auto& f : m.header.fields)
    r.fields[lower(std::string(f.name))].push_back(mime::casemap(mime::decode_header_text(f.raw_value)));
  const auto* date = m.header.find("Date");
  auto parsed = date ? mime::parse_date(date->raw_value) : std::nullopt;
  r.sent_date = parsed ? *parsed : internal_date;
  const auto* subject = m.header.find("Subject");
  r.subject = mime::casemap(mime::base_subject(subject ? subject->raw_value : "").text);
  const auto* from = m.header.find("From");
  r.from = mime::casemap(mime::first_mailbox(from ? from->raw_value : ""));
  r.size = m.wire_size;
  return r;
}

bool has(std::string_view hay, const std::string& needle) {
  return hay.find(mime::casemap(needle)) != std::string_view::npos;
}

// The parameter is how many messages have their words and sort entries
// merged into the index before the checks (the rest stay pending): none,
// some, or all; every answer must be the same.
class SearchFixture : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override {
    store_ = std::make_unique<Store>(testing::test_config(dir_.path()));
    user_ = std::move(*store_->open_user("alice"));
    corpus::Generator generator(20261123);
    std::vector<NewMessage> batch;
    for (int i = 0; i < 160; ++i) {
      corpus::Message m = generator.next();
      NewMessage n;
      n.data = m.text;
      n.internal_date = 1700000000 + i * 40000;  // about every 11 hours
      n.flags.system = (i % 3 == 0 ? fl::seen : 0) | (i % 7 == 0 ? fl::flagged : 0) | (i % 11 == 0 ? fl::deleted : 0);
      planted_.push_back(m.facts.planted_word);
      batch.push_back(std::move(n));
    }
    std::vector<NewMessage> copy = batch;
    auto appended = user_->append("INBOX", std::move(copy));
    ASSERT_TRUE(appended.has_value());
    for (std::size_t i = 0; i < batch.size(); ++i)
      refs_.push_back(reference_of(appended->uids[i], batch[i].data, batch[i].internal_date, batch[i].flags.system));
    merge(GetParam());
    view_ = std::move(*user_->open("INBOX", false));
  }

  void merge(std::size_t count) {
    if (count == 0) return;
    auto env = index::EnvRegistry::instance().open(user_->root() / "roost-index", index::folder_env_options());
    ASSERT_TRUE(env.has_value());
    auto written = (*env)->write([&](index::Txn& txn) -> std::expected<void, index::LmdbError> {
      auto merged = index::merge_pending(txn, count);
      if (!merged) return std::unexpected(merged.error());
      EXPECT_EQ(*merged, count);
      EXPECT_EQ(index::pending_count(txn), refs_.size() - count);
      return {};
    });
    ASSERT_TRUE(written.has_value());
  }

  std::vector<Uid> brute(const std::function<bool(const Reference&)>& match) {
    std::vector<Uid> out;
    for (const auto& r : refs_)
      if (match(r)) out.push_back(r.uid);
    return out;
  }

  std::vector<Uid> indexed(const SearchKey& key) {
    auto found = view_->search(key);
    EXPECT_TRUE(found.has_value());
    return found ? *found : std::vector<Uid>{};
  }

  static SearchKey text_key(K kind, std::string text, std::string field = {}) {
    SearchKey k;
    k.kind = kind;
    k.text = std::move(text);
    k.field = std::move(field);
    return k;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<User> user_;
  std::unique_ptr<FolderView> view_;
  std::vector<Reference> refs_;
  std::vector<std::string> planted_;
};

TEST_P(SearchFixture, FlagsDatesSizesAgreeWithBruteForce) {
  SearchKey seen{K::flags};
  seen.flags = fl::seen;
  EXPECT_EQ(indexed(seen), brute([](const Reference& r) { return (r.flags & fl::seen) != 0; }));
  SearchKey unseen_flagged{K::and_};
  SearchKey flagged{K::flags};
  flagged.flags = fl::flagged;
  unseen_flagged.children = {SearchKey{K::not_, {seen}}, flagged};
  EXPECT_EQ(indexed(unseen_flagged),
            brute([](const Reference& r) { return !(r.flags & fl::seen) && (r.flags & fl::flagged); }));
  std::int64_t day = (1700000000 + 100 * 40000) / 86400;
  for (K kind : {K::before, K::on, K::since}) {
    SearchKey k{kind};
    k.day = day;
    EXPECT_EQ(indexed(k), brute([&](const Reference& r) {
                std::int64_t d = r.internal_date / 86400;
                return kind == K::before ? d < day : kind == K::on ? d == day : d >= day;
              }));
  }
  std::int64_t sent_day = refs_[50].sent_date / 86400;
  for (K kind : {K::sent_before, K::sent_on, K::sent_since}) {
    SearchKey k{kind};
    k.day = sent_day;
    auto expected = brute([&](const Reference& r) {
      std::int64_t d = r.sent_date >= 0 ? r.sent_date / 86400 : -((-r.sent_date + 86399) / 86400);
      return kind == K::sent_before ? d < sent_day : kind == K::sent_on ? d == sent_day : d >= sent_day;
    });
    EXPECT_EQ(indexed(k), expected);
    EXPECT_FALSE(expected.empty());
  }
  SearchKey larger{K::larger};
  larger.number = refs_[10].size;
  EXPECT_EQ(indexed(larger), brute([&](const Reference& r) { return r.size > larger.number; }));
  SearchKey smaller{K::smaller};
  smaller.number = refs_[10].size;
  EXPECT_EQ(indexed(smaller), brute([&](const Reference& r) { return r.size < smaller.number; }));
  SearchKey some{K::uids};
  some.uids = {3, 4, 5, 100, 9999};
  EXPECT_EQ(indexed(some), (std::vector<Uid>{3, 4, 5, 100}));
}

TEST_P(SearchFixture, TextKeysAgreeWithBruteForce) {
  // The planted word is in exactly one body.
  for (std::size_t i : {0u, 77u, 159u}) {
    EXPECT_EQ(indexed(text_key(K::body, planted_[i])), std::vector<Uid>{refs_[i].uid});
    EXPECT_EQ(indexed(text_key(K::text, planted_[i])), std::vector<Uid>{refs_[i].uid});
  }
  // Substrings, case, several words, words across punctuation, and nothing.
  std::vector<std::string> probes{"the", "THE", "e", "meeting", "re", "zq1", "x", "ref zq", "Ref zq12x",
                                  "@", "example", ".org", "  ", "", "-", "nonexistentword"};
  probes.push_back(refs_[5].subject.substr(0, std::min<std::size_t>(8, refs_[5].subject.size())));
  for (const auto& p : probes) {
    EXPECT_EQ(indexed(text_key(K::body, p)), brute([&](const Reference& r) { return has(r.body_text, p); })) << p;
    EXPECT_EQ(indexed(text_key(K::text, p)),
              brute([&](const Reference& r) { return has(r.header_text, p) || has(r.body_text, p); }))
        << p;
    for (const char* field : {"from", "subject", "to", "cc", "message-id", "x-nothing"}) {
      EXPECT_EQ(indexed(text_key(K::header, p, field)), brute([&](const Reference& r) {
                  auto f = r.fields.find(field);
                  if (f == r.fields.end()) return false;
                  return std::any_of(f->second.begin(), f->second.end(), [&](const std::string& v) { return has(v, p); });
                }))
          << field << " " << p;
    }
  }
}

TEST_P(SearchFixture, SortAgreesWithBruteForce) {
  // Every message, and every third one (the sort walks keys of messages the
  // search did not find and must skip them).
  SearchKey all{K::all};
  SearchKey thirds{K::uids};
  for (std::size_t i = 0; i < refs_.size(); i += 3) thirds.uids.push_back(refs_[i].uid);
  for (const SearchKey* key : {&all, &thirds}) {
    auto check = [&](std::vector<index::SortCriterion> criteria,
                     const std::function<bool(const Reference&, const Reference&)>& less) {
      std::vector<Reference> order;
      for (const auto& r : refs_)
        if (key == &all || std::binary_search(thirds.uids.begin(), thirds.uids.end(), r.uid)) order.push_back(r);
      std::stable_sort(order.begin(), order.end(), [&](const Reference& a, const Reference& b) {
        if (less(a, b)) return true;
        if (less(b, a)) return false;
        return a.uid < b.uid;
      });
      std::vector<Uid> expected;
      for (const auto& r : order) expected.push_back(r.uid);
      auto got = view_->sort(criteria, *key);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(*got, expected) << (key == &all ? "all" : "thirds");
    };
    using S = index::SortKind;
    check({{S::date, false}}, [](auto& a, auto& b) { return a.sent_date < b.sent_date; });
    check({{S::date, true}}, [](auto& a, auto& b) { return a.sent_date > b.sent_date; });
    check({{S::arrival, false}}, [](auto& a, auto& b) { return a.internal_date < b.internal_date; });
    check({{S::size, true}}, [](auto& a, auto& b) { return a.size > b.size; });
    check({{S::subject, false}}, [](auto& a, auto& b) { return a.subject < b.subject; });
    check({{S::from, false}}, [](auto& a, auto& b) { return a.from < b.from; });
    // RFC 5256 §3: ties broken by the next key, then by sequence number.
    check({{S::subject, true}, {S::date, false}}, [](auto& a, auto& b) {
      if (a.subject != b.subject) return a.subject > b.subject;
      return a.sent_date < b.sent_date;
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Merged, SearchFixture, ::testing::Values(std::size_t{0}, std::size_t{70}, std::size_t{160}));

void collect(const std::vector<index::ThreadNode>& nodes, std::vector<Uid>& out) {
  for (const auto& n : nodes) {
    if (n.uid != 0) out.push_back(n.uid);
    collect(n.children, out);
  }
}

TEST_P(SearchFixture, ThreadsCoverEveryMessageOnce) {
  SearchKey all{K::all};
  for (auto algorithm : {index::ThreadAlgorithm::ordered_subject, index::ThreadAlgorithm::references,
                         index::ThreadAlgorithm::refs}) {
    auto threads = view_->thread(algorithm, all);
    ASSERT_TRUE(threads.has_value());
    std::vector<Uid> seen;
    collect(*threads, seen);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, view_->uids());
    EXPECT_LT(threads->size(), refs_.size());  // the corpus has real threads
  }
}

// A merge appends a word's new UIDs after those it has; a message indexed
// after a higher UID was merged (late, by a sync) still gets its postings,
// in their place.
TEST(Merge, AMessageIndexedLateKeepsItsPostings) {
  testing::TempDir dir;
  auto env = index::EnvRegistry::instance().open(dir.path() / "index", index::folder_env_options());
  ASSERT_TRUE(env.has_value());
  const std::string message = "Subject: zebra crossing\r\n\r\nA zebra crossed.\r\n";
  index::FolderMeta meta;
  auto add_and_merge = [&](Uid uid) {
    auto written = (*env)->write([&](index::Txn& txn) -> std::expected<void, index::LmdbError> {
      index::MessageRecord record;
      record.uid = uid;
      record.modseq = uid;
      record.file_key = "key" + std::to_string(uid);
      record.size = message.size();
      if (auto inserted = index::insert(txn, meta, record, index::analyze(message, 0)); !inserted) return inserted;
      auto merged = index::merge_pending(txn, 100);
      if (!merged) return std::unexpected(merged.error());
      EXPECT_EQ(*merged, 1u);
      return {};
    });
    ASSERT_TRUE(written.has_value()) << written.error().what;
  };
  add_and_merge(10);
  add_and_merge(5);
  add_and_merge(20);
  index::SearchContext context;
  context.body_text = [&](Uid) { return std::optional<std::string>(index::body_search_text(message)); };
  for (auto [kind, word] : {std::pair{K::body, "zebra"}, std::pair{K::header, "crossing"}}) {
    SearchKey key;
    key.kind = kind;
    key.text = word;
    if (kind == K::header) key.field = "subject";
    auto found = (*env)->read([&](index::Txn& txn) -> std::expected<void, index::LmdbError> {
      auto uids = index::search_messages(txn, key, {5, 10, 20}, context);
      if (!uids) return std::unexpected(uids.error());
      EXPECT_EQ(*uids, (std::vector<Uid>{5, 10, 20})) << word;
      return {};
    });
    ASSERT_TRUE(found.has_value());
  }
}

TEST(Thread, ReferencesLinksRepliesAndMergesSubjects) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("bob"));
  auto msg = [](std::string id, std::string subject, std::string date, std::string refs) {
    NewMessage m;
    m.data = "Message-ID: <" + id + ">\r\nSubject: " + subject + "\r\nDate: " + date + "\r\n" +
             (refs.empty() ? "" : "References: " + refs + "\r\n") + "\r\nbody\r\n";
    m.internal_date = 1700000000;
    return m;
  };
  std::vector<NewMessage> batch;
  batch.push_back(msg("a@x", "Plans", "Mon, 1 Jan 2024 10:00:00 +0000", ""));                  // 1
  batch.push_back(msg("b@x", "Re: Plans", "Mon, 1 Jan 2024 11:00:00 +0000", "<a@x>"));         // 2
  batch.push_back(msg("c@x", "Re: Plans", "Mon, 1 Jan 2024 12:00:00 +0000", "<a@x> <b@x>"));   // 3
  batch.push_back(msg("d@x", "Other", "Mon, 1 Jan 2024 09:00:00 +0000", ""));                  // 4
  batch.push_back(msg("e@x", "Re: Lost", "Mon, 1 Jan 2024 13:00:00 +0000", "<missing@x>"));    // 5
  batch.push_back(msg("f@x", "Re: Plans", "Mon, 1 Jan 2024 08:00:00 +0000", ""));              // 6
  ASSERT_TRUE(user->append("INBOX", std::move(batch)));
  auto view = std::move(*user->open("INBOX", false));
  SearchKey all{K::all};
  auto render = [](const std::vector<index::ThreadNode>& threads) {
    std::function<std::string(const index::ThreadNode&)> node = [&](const index::ThreadNode& n) {
      // RFC 5256 §4 thread-list syntax: "(1 (2 3)(6))".
      std::string s = n.uid == 0 ? "" : std::to_string(n.uid);
      if (n.children.size() == 1) return s + " " + node(n.children[0]);
      if (!s.empty() && !n.children.empty()) s += " ";
      for (const auto& c : n.children) s += "(" + node(c) + ")";
      return s;
    };
    std::string out;
    for (const auto& t : threads) out += "(" + node(t) + ")";
    return out;
  };
  // 6 is a "Re: Plans" without references: step 5 makes it a child of 1
  // (a reply under a non-reply), step 6 puts it before 2 by date; 5 hung
  // under a dummy that step 3 removed.
  EXPECT_EQ(render(*view->thread(index::ThreadAlgorithm::references, all)), "(4)(1 (6)(2 3))(5)");
  EXPECT_EQ(render(*view->thread(index::ThreadAlgorithm::ordered_subject, all)), "(6 (1)(2)(3))(4)(5)");
  // REFS: no subject merging; threads by their newest message.
  EXPECT_EQ(render(*view->thread(index::ThreadAlgorithm::refs, all)), "(6)(4)(1 2 3)(5)");
}

// A chain of replies thousands deep (mail anyone can send): threaded in
// bounded time, every message once, and no deeper than the bound, so that
// nothing recursing along the result (IMAP rendering, destruction)
// exhausts a stack.
TEST(Thread, ChainsOfRepliesAreBoundedInDepth) {
  testing::TempDir dir;
  Store store(testing::test_config(dir.path()));
  auto user = std::move(*store.open_user("bob"));
  constexpr int kChain = 3000;
  std::vector<NewMessage> batch;
  for (int i = 0; i < kChain; ++i) {
    NewMessage m;
    m.data = "Message-ID: <m" + std::to_string(i) + "@x>\r\nSubject: Re: chain\r\n" +
             (i == 0 ? std::string() : "In-Reply-To: <m" + std::to_string(i - 1) + "@x>\r\nReferences: <m" +
                                           std::to_string(i - 1) + "@x>\r\n") +
             "\r\nbody\r\n";
    m.internal_date = 1700000000 + i;
    batch.push_back(std::move(m));
  }
  ASSERT_TRUE(user->append("INBOX", std::move(batch)));
  auto view = std::move(*user->open("INBOX", false));
  for (auto algorithm : {index::ThreadAlgorithm::references, index::ThreadAlgorithm::refs}) {
    auto threads = view->thread(algorithm, SearchKey{K::all});
    ASSERT_TRUE(threads.has_value());
    std::size_t count = 0, deepest = 0;
    std::vector<std::pair<const index::ThreadNode*, std::size_t>> stack;
    for (const auto& t : *threads) stack.emplace_back(&t, 1);
    while (!stack.empty()) {
      auto [n, depth] = stack.back();
      stack.pop_back();
      if (n->uid != 0) ++count;
      deepest = std::max(deepest, depth);
      for (const auto& c : n->children) stack.emplace_back(&c, depth + 1);
    }
    EXPECT_EQ(count, static_cast<std::size_t>(kChain));
    EXPECT_LE(deepest, 1002u);
  }
}

// Dense and moderately sparse lists take the bitmap, very sparse ones binary
// search: both must agree with a search of the list for every UID in and
// around it, across block boundaries.
TEST(UidPositions, AgreeWithBinarySearchDenseAndSparse) {
  std::mt19937 random(7);
  for (std::uint32_t stride : {1u, 2u, 5u, 64u, 100u, 300u}) {
    std::vector<Uid> uids;
    for (Uid uid = 3; uids.size() < 500; uid += 1 + random() % stride) uids.push_back(uid);
    if (stride == 100) uids.push_back(4'000'000'000u);
    const index::UidPositions positions(uids);
    for (Uid probe = 0; probe < uids.back() + 3 && probe < 60'000; ++probe) {
      auto it = std::lower_bound(uids.begin(), uids.end(), probe);
      std::optional<std::uint32_t> expected;
      if (it != uids.end() && *it == probe) expected = static_cast<std::uint32_t>(it - uids.begin());
      ASSERT_EQ(positions.find(probe), expected) << "stride " << stride << " uid " << probe;
    }
    EXPECT_EQ(positions.find(uids.back()), uids.size() - 1);
  }
  const std::vector<Uid> none;
  EXPECT_FALSE(index::UidPositions(none).find(1));
}

}  // namespace
}  // namespace roost::storage

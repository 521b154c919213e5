// Storage and index operations on a 100k-message folder (issue 4's
// targets), with Google Benchmark. The folder is built once from the seeded
// corpus generator (attachments capped at 64 KiB: about 31 KB per message,
// 3 GB for 100k) and reused by later runs.
//
//   build/bin/storage_ops [--benchmark_filter=...]
//   ROOST_BENCH_DIR   where the folder lives (default: build/bench-data)
//   ROOST_BENCH_MESSAGES  messages in the big folder (default: 100000)
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus_generator.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/index/lmdb.hpp"
#include "roost/storage/storage.hpp"

namespace {

using namespace roost;
using storage::NewMessage;
using K = index::SearchKey::Kind;
using index::Uid;

std::filesystem::path bench_dir() {
  const char* dir = std::getenv("ROOST_BENCH_DIR");
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path("build/bench-data");
}

std::size_t bench_messages() {
  const char* n = std::getenv("ROOST_BENCH_MESSAGES");
  return n != nullptr ? std::strtoul(n, nullptr, 10) : 100000;
}

// Asks ext4 to place each user directory in a block group of its own, as it
// does for top-level directories (FS_TOPDIR_FL, `chattr +T`). Without a
// journal ext4 passes over every inode freed in the last minutes when it
// allocates one in the same group, so a delivery benchmark that created its
// files where an earlier run had just deleted thousands paid up to 0.7 ms
// per file (measured), not 20 us. Elsewhere a no-op.
void spread_subdirectories(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
    flags |= FS_TOPDIR_FL;
    (void)::ioctl(fd, FS_IOC_SETFLAGS, &flags);
  }
  ::close(fd);
}

// Users made by one run of the program, removed when it ends.
std::vector<std::string> g_scratch_users;

storage::Store* g_store = nullptr;
storage::User* g_user = nullptr;
std::string g_rare_word;
std::string g_from_probe;

void build_folder() {
  auto status = g_user->status("INBOX");
  std::size_t want = bench_messages();
  if (status && status->messages >= want) return;
  std::size_t have = status ? status->messages : 0;
  std::fprintf(stderr, "building a %zu-message folder in %s (have %zu)...\n", want, bench_dir().c_str(), have);
  corpus::Generator generator(4242, 64 * 1024);
  for (std::size_t i = 0; i < have; ++i) generator.next();
  auto start = std::chrono::steady_clock::now();
  std::vector<NewMessage> batch;
  for (std::size_t i = have; i < want; ++i) {
    corpus::Message m = generator.next();
    NewMessage n;
    n.data = std::move(m.text);
    n.internal_date = 1600000000 + static_cast<std::int64_t>(i) * 300;
    n.flags.system = i % 4 == 0 ? 0 : index::flag::seen;
    batch.push_back(std::move(n));
    if (batch.size() == 1000 || i + 1 == want) {
      auto added = g_user->append("INBOX", std::move(batch));
      if (!added) {
        std::fprintf(stderr, "append failed: %s\n", added.error().detail.c_str());
        std::exit(1);
      }
      batch.clear();
      std::fprintf(stderr, "  %zu\r", i + 1);
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "built in %.1f s\n", seconds);
}

std::unique_ptr<storage::FolderView> open_view();

// Probes from a message in the middle: its planted word (in that body only)
// and its sender's mailbox.
void find_probes() {
  auto view = open_view();
  Uid uid = view->uids()[view->uids().size() / 2];
  std::string text = view->read(uid).value_or("");
  std::size_t at = text.find("Ref zq");
  if (at != std::string::npos) {
    std::size_t end = text.find_first_of("\r\n ", at + 4);
    g_rare_word = text.substr(at + 4, end - at - 4);
  }
  auto keys = view->keys(uid);
  if (keys) g_from_probe = keys->from;
}

std::unique_ptr<storage::FolderView> open_view() {
  auto view = g_user->open("INBOX", true);
  if (!view) {
    std::fprintf(stderr, "open failed: %s\n", view.error().detail.c_str());
    std::exit(1);
  }
  return std::move(*view);
}

void BM_Select(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(open_view());
}
BENCHMARK(BM_Select)->Unit(benchmark::kMillisecond);

void BM_Status(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_user->status("INBOX"));
}
BENCHMARK(BM_Status)->Unit(benchmark::kMicrosecond);

void BM_Sort(benchmark::State& state) {
  auto view = open_view();
  auto kind = static_cast<index::SortKind>(state.range(0));
  index::SearchKey all{K::all};
  std::size_t n = 0;
  for (auto _ : state) {
    auto sorted = view->sort({{kind, state.range(1) != 0}}, all);
    n = sorted ? sorted->size() : 0;
  }
  state.counters["messages"] = static_cast<double>(n);
}
BENCHMARK(BM_Sort)
    ->ArgNames({"kind", "reverse"})
    ->Args({1, 0})->Args({2, 0})->Args({2, 1})->Args({3, 0})->Args({4, 0})->Args({5, 0})
    ->Args({6, 0})->Args({7, 0})->Args({8, 0})->Args({9, 0})
    ->Unit(benchmark::kMillisecond);

void BM_Thread(benchmark::State& state) {
  auto view = open_view();
  index::SearchKey all{K::all};
  auto algorithm = static_cast<index::ThreadAlgorithm>(state.range(0));
  std::size_t n = 0;
  for (auto _ : state) {
    auto threads = view->thread(algorithm, all);
    n = threads ? threads->size() : 0;
  }
  state.counters["threads"] = static_cast<double>(n);
}
BENCHMARK(BM_Thread)->ArgName("algorithm")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void run_search(benchmark::State& state, const index::SearchKey& key) {
  auto view = open_view();
  std::size_t n = 0;
  for (auto _ : state) {
    auto found = view->search(key);
    n = found ? found->size() : 0;
  }
  state.counters["found"] = static_cast<double>(n);
}

void BM_SearchUnseen(benchmark::State& state) {
  index::SearchKey seen{K::flags};
  seen.flags = index::flag::seen;
  index::SearchKey key{K::not_};
  key.children = {seen};
  run_search(state, key);
}
BENCHMARK(BM_SearchUnseen)->Unit(benchmark::kMillisecond);

void BM_SearchSince(benchmark::State& state) {
  index::SearchKey key{K::since};
  key.day = (1600000000 + static_cast<std::int64_t>(bench_messages()) * 300 * 9 / 10) / 86400;
  run_search(state, key);
}
BENCHMARK(BM_SearchSince)->Unit(benchmark::kMillisecond);

void BM_SearchFrom(benchmark::State& state) {
  index::SearchKey key{K::header};
  key.field = "From";
  key.text = g_from_probe;
  run_search(state, key);
}
BENCHMARK(BM_SearchFrom)->Unit(benchmark::kMillisecond);

void BM_SearchBodyRareWord(benchmark::State& state) {
  index::SearchKey key{K::body};
  key.text = g_rare_word;
  run_search(state, key);
}
BENCHMARK(BM_SearchBodyRareWord)->Unit(benchmark::kMillisecond);

void BM_RefreshAfterOneChange(benchmark::State& state) {
  auto reader = open_view();
  auto writer = g_user->open("INBOX", false);
  Uid uid = reader->uids()[reader->uids().size() / 2];
  bool on = false;
  for (auto _ : state) {
    state.PauseTiming();
    on = !on;
    (void)(*writer)->store({uid}, on ? storage::StoreMode::add : storage::StoreMode::remove,
                           storage::Flags{index::flag::flagged, {}});
    state.ResumeTiming();
    benchmark::DoNotOptimize(reader->refresh(true));
  }
}
BENCHMARK(BM_RefreshAfterOneChange)->Unit(benchmark::kMicrosecond);

// A full sync that finds nothing to change: what a foreign change to new/
// (its time moved) or the periodic full sync costs on the big folder.
void BM_FullSyncNothingChanged(benchmark::State& state) {
  auto reader = open_view();
  const std::filesystem::path new_dir = g_user->root() / "new";
  for (auto _ : state) {
    state.PauseTiming();
    ::utimensat(AT_FDCWD, new_dir.c_str(), nullptr, 0);  // now: the cheap check no longer matches
    state.ResumeTiming();
    benchmark::DoNotOptimize(reader->refresh(true));
  }
}
BENCHMARK(BM_FullSyncNothingChanged)->Unit(benchmark::kMillisecond);

// Deliveries with every message fsynced, from N threads at once into one
// folder; group commit shares directory flushes and index commits between
// them. Reports messages per second of wall time, all threads together.
void BM_Deliver(benchmark::State& state) {
  static const std::vector<std::string> messages = [] {
    corpus::Generator generator(7, 64 * 1024);
    std::vector<std::string> out;
    for (int i = 0; i < 500; ++i) out.push_back(generator.next().text);
    return out;
  }();
  const int deliverers = static_cast<int>(state.range(0));
  constexpr int kEach = 250;
  double rate = 0;
  for (auto _ : state) {
    // A user of its own, removed at the end of the program rather than
    // before the next run (see spread_subdirectories).
    g_scratch_users.push_back("deliver-" + std::to_string(::getpid()) + "-" + std::to_string(g_scratch_users.size()));
    auto user = std::move(*g_store->open_user(g_scratch_users.back()));
    std::atomic<int> failures{0};
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < deliverers; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          NewMessage m;
          m.data = messages[static_cast<std::size_t>(t * kEach + i) % messages.size()];
          if (!user->deliver("INBOX", std::move(m))) ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    rate = deliverers * kEach / seconds;
    if (failures > 0) state.SkipWithError("a delivery failed");
  }
  state.counters["msgs_per_s"] = rate;
}
BENCHMARK(BM_Deliver)->ArgName("deliverers")->Arg(1)->Arg(4)->Arg(16)->Iterations(1)->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Bytes this process has had written to storage so far (/proc/self/io).
std::uint64_t bytes_written() {
  std::ifstream io("/proc/self/io");
  std::string name;
  std::uint64_t value = 0;
  while (io >> name >> value)
    if (name == "write_bytes:") return value;
  return 0;
}

// Delivery into the 100,000-message folder, where every index tree is deep:
// what a delivery costs a big mailbox. One deliverer; reports messages per
// second and the bytes written to the disk per message (message, UID list
// and index pages). The delivered messages are expunged afterwards, so the
// folder stays as the other benchmarks expect it.
void BM_DeliverIntoBig(benchmark::State& state) {
  corpus::Generator generator(11, 64 * 1024);
  std::vector<std::string> messages;
  for (int i = 0; i < 200; ++i) messages.push_back(generator.next().text);
  double rate = 0, per_message = 0;
  std::vector<storage::Uid> delivered;
  for (auto _ : state) {
    const std::uint64_t written_before = bytes_written();
    auto start = std::chrono::steady_clock::now();
    for (const auto& text : messages) {
      NewMessage m;
      m.data = text;
      auto appended = g_user->deliver("INBOX", std::move(m));
      if (!appended) {
        state.SkipWithError("a delivery failed");
        return;
      }
      delivered.insert(delivered.end(), appended->uids.begin(), appended->uids.end());
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    rate = static_cast<double>(messages.size()) / seconds;
    per_message = static_cast<double>(bytes_written() - written_before) / static_cast<double>(messages.size());
  }
  state.counters["msgs_per_s"] = rate;
  state.counters["bytes_written_per_msg"] = per_message;
  auto view = g_user->open("INBOX", false);
  if (view && (*view)->store(delivered, storage::StoreMode::add, storage::Flags{index::flag::deleted, {}}, std::nullopt))
    (void)(*view)->expunge(delivered);
}
BENCHMARK(BM_DeliverIntoBig)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

// One background merge: the full-text postings and sort entries of 255
// messages moved from their pending values into the folder's trees, which
// already hold 2,040 messages' (a folder merges after every 256 deliveries;
// 255 stay below that, so the timed merge is the only one).
void BM_MergePending(benchmark::State& state) {
  constexpr std::size_t kMessages = 255;
  corpus::Generator generator(13, 64 * 1024);
  g_scratch_users.push_back("merge-" + std::to_string(::getpid()));
  auto user = std::move(*g_store->open_user(g_scratch_users.back()));
  auto env = index::EnvRegistry::instance().open(bench_dir() / g_scratch_users.back() / "roost-index",
                                                 index::folder_env_options());
  std::size_t merged = 0;
  auto merge = [&] {
    return (*env)->write([&](index::Txn& txn) -> std::expected<void, index::LmdbError> {
      auto n = index::merge_pending(txn, SIZE_MAX);
      if (!n) return std::unexpected(n.error());
      merged = *n;
      return {};
    });
  };
  auto append = [&] {
    std::vector<NewMessage> batch;
    for (std::size_t i = 0; i < kMessages; ++i) {
      NewMessage m;
      m.data = generator.next().text;
      batch.push_back(std::move(m));
    }
    return user->append("INBOX", std::move(batch)).has_value();
  };
  for (int i = 0; i < 8; ++i)
    if (!env || !append() || !merge()) state.SkipWithError("cannot fill the folder");
  for (auto _ : state) {
    state.PauseTiming();
    if (!append()) state.SkipWithError("append failed");
    state.ResumeTiming();
    if (!merge() || merged != kMessages) state.SkipWithError("merge failed");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kMessages));
}
BENCHMARK(BM_MergePending)->Unit(benchmark::kMillisecond)->Iterations(10);

// Finding an open index: what every storage call on a folder pays first
// (Folder::env), with 300 environments open in the process, as a server
// with many users in session has.
void BM_IndexLookup(benchmark::State& state) {
  static const std::vector<std::filesystem::path> dirs = [] {
    g_scratch_users.push_back("lookup-" + std::to_string(::getpid()));
    std::vector<std::filesystem::path> out;
    for (int i = 0; i < 300; ++i) out.push_back(bench_dir() / g_scratch_users.back() / std::to_string(i));
    return out;
  }();
  std::vector<std::shared_ptr<index::Env>> held;
  for (const auto& dir : dirs) {
    auto env = index::EnvRegistry::instance().open(dir, index::folder_env_options());
    if (!env) {
      state.SkipWithError("cannot open an index");
      return;
    }
    held.push_back(*env);
  }
  std::size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index::EnvRegistry::instance().open(dirs[next], index::folder_env_options()));
    next = (next + 7) % dirs.size();
  }
}
BENCHMARK(BM_IndexLookup);

void BM_Rebuild10k(benchmark::State& state) {
  static std::unique_ptr<storage::User> user = [] {
    auto u = std::move(*g_store->open_user("rebuild"));
    if (u->status("INBOX")->messages < 10000) {
      corpus::Generator generator(99, 64 * 1024);
      std::vector<NewMessage> batch;
      for (int i = 0; i < 10000; ++i) {
        NewMessage n;
        n.data = generator.next().text;
        batch.push_back(std::move(n));
      }
      (void)u->append("INBOX", std::move(batch));
    }
    return u;
  }();
  for (auto _ : state) {
    auto rebuilt = user->rebuild_index("INBOX");
    if (!rebuilt) state.SkipWithError(rebuilt.error().detail.c_str());
  }
  state.SetItemsProcessed(state.iterations() * 10000);
}
BENCHMARK(BM_Rebuild10k)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::filesystem::create_directories(bench_dir());
  spread_subdirectories(bench_dir());
  storage::StoreConfig config;
  config.mail_root = bench_dir();
  config.host_name = "bench";
  storage::Store store(config);
  g_store = &store;
  auto user = store.open_user("big");
  if (!user) {
    std::fprintf(stderr, "cannot open the bench user: %s\n", user.error().detail.c_str());
    return 1;
  }
  g_user = user->get();
  build_folder();
  find_probes();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& name : g_scratch_users) {
    std::error_code ec;
    std::filesystem::remove_all(bench_dir() / name, ec);
  }
  return 0;
}

// What a password login costs the server: a first LOGIN (a yescrypt hash)
// against a repeated one answered by the authentication cache ([auth]
// cache_ttl), and a user look-up in the embedded directory among 10,000
// users. Results in docs/performance.md.
//   directory_auth [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "roost/core/auth.hpp"
#include "roost/core/config.hpp"
#include "roost/directory/directory.hpp"

namespace {

namespace fs = std::filesystem;
constexpr int kUsers = 10000;

// One directory of kUsers users for every benchmark (making the hashes is
// the slow part: SCRAM's PBKDF2 at the lowest count RFC 5802 allows).
struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("roost-bench-directory-" + std::to_string(::getpid()));
  std::shared_ptr<roost::directory::Directory> directory;

  Fixture() {
    fs::remove_all(dir);
    directory = std::move(*roost::directory::open_lmdb(dir / "users", true));
    // One real hash, shared: the look-up does not depend on which it is.
    auto record = roost::make_user_record("u0", "the password", roost::ScramSettings{.iterations = 4096});
    for (int i = 0; i < kUsers; ++i) {
      roost::directory::User u;
      u.credentials = *record;
      u.credentials.name = "u" + std::to_string(i);
      (void)directory->add(u);
    }
  }
  ~Fixture() { fs::remove_all(dir); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::unique_ptr<roost::Authenticator> authenticator(const std::string& cache_ttl) {
  auto config = roost::parse_config("data_dir = " + fixture().dir.string() + "\n[auth]\ncache_ttl = " + cache_ttl +
                                        "\n",
                                    fixture().dir / "roost.conf");
  return std::move(*roost::Authenticator::create(*config, fixture().directory));
}

void BM_LoginFirst(benchmark::State& state) {
  auto auth = authenticator("0");
  for (auto _ : state) benchmark::DoNotOptimize(auth->check_password("u1", "the password"));
}
BENCHMARK(BM_LoginFirst)->Unit(benchmark::kMillisecond);

void BM_LoginRepeatedWithinTheTtl(benchmark::State& state) {
  auto auth = authenticator("5m");
  auth->check_password("u1", "the password");
  for (auto _ : state) benchmark::DoNotOptimize(auth->check_password("u1", "the password"));
}
BENCHMARK(BM_LoginRepeatedWithinTheTtl)->Unit(benchmark::kMicrosecond);

void BM_LmdbUserLookup(benchmark::State& state) {
  std::mt19937 random(1);
  for (auto _ : state) benchmark::DoNotOptimize(fixture().directory->user("u" + std::to_string(random() % kUsers)));
}
BENCHMARK(BM_LmdbUserLookup)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();

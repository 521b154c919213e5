// What a password login costs the server: a first LOGIN (a yescrypt hash)
// against a repeated one answered by the authentication cache ([auth]
// cache_ttl), and a user look-up in the embedded directory among 10,000
// users; with ROOST_BENCH_PG set, the same in PostgreSQL, uncached and
// through the look-up cache. Results in docs/performance.md.
//   [ROOST_BENCH_PG="host=... dbname=..."] directory_auth [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
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

// The PostgreSQL engine, when ROOST_BENCH_PG names a database (a libpq
// connection string; the schema is made here): the same 10,000 users,
// looked up uncached and through the look-up cache.
struct PgFixture {
  std::shared_ptr<roost::directory::Directory> engine, cached;
  explicit PgFixture(const std::string& conninfo) {
    if (auto made = roost::directory::init_postgresql(conninfo); !made) throw std::runtime_error(made.error());
    auto opened = roost::directory::open_postgresql(conninfo, 4);
    if (!opened) throw std::runtime_error(opened.error());
    engine = std::move(*opened);
    auto names = fixture().directory->users();
    for (const auto& name : *names) (void)engine->add(*fixture().directory->user(name).value());
    auto again = roost::directory::open_postgresql(conninfo, 4);
    cached = roost::directory::cached(std::move(*again), roost::directory::CacheSettings{});
  }
};

PgFixture& pg_fixture() {
  static PgFixture f(std::getenv("ROOST_BENCH_PG"));
  return f;
}

void BM_PostgresUserLookup(benchmark::State& state) {
  std::mt19937 random(1);
  auto& dir = *pg_fixture().engine;
  for (auto _ : state) benchmark::DoNotOptimize(dir.user("u" + std::to_string(random() % kUsers)));
}

void BM_PostgresUserLookupCached(benchmark::State& state) {
  std::mt19937 random(1);
  auto& dir = *pg_fixture().cached;
  for (int i = 0; i < kUsers; ++i) (void)dir.user("u" + std::to_string(i));  // warm
  for (auto _ : state) benchmark::DoNotOptimize(dir.user("u" + std::to_string(random() % kUsers)));
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("ROOST_BENCH_PG") != nullptr) {
    benchmark::RegisterBenchmark("BM_PostgresUserLookup", BM_PostgresUserLookup)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("BM_PostgresUserLookupCached", BM_PostgresUserLookupCached)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Parse throughput of mime/ on the generated corpus (seed 1, 2,000
// messages: a mix of plain, alternative and mixed mail with
// attachments). Reported as bytes per second of message data.
//
//   build/bin/mime_parse [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>

#include "corpus_generator.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/message.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/sort_keys.hpp"

namespace {

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> messages = [] {
    roost::corpus::Generator generator(1);
    std::vector<std::string> out;
    for (int i = 0; i < 2000; ++i) out.push_back(generator.next().text);
    return out;
  }();
  return messages;
}

std::int64_t corpus_bytes() {
  std::int64_t total = 0;
  for (const auto& m : corpus()) total += static_cast<std::int64_t>(m.size());
  return total;
}

// Only the messages under 64 KiB: header-heavy mail, where per-byte cost is
// highest.
void BM_StructureSmallMessages(benchmark::State& state) {
  std::vector<const std::string*> small;
  std::int64_t bytes = 0;
  for (const auto& m : corpus()) {
    if (m.size() < 65536) {
      small.push_back(&m);
      bytes += static_cast<std::int64_t>(m.size());
    }
  }
  for (auto _ : state) {
    for (const auto* m : small) benchmark::DoNotOptimize(roost::mime::parse(*m));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["messages"] = static_cast<double>(small.size());
}
BENCHMARK(BM_StructureSmallMessages)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// MIME structure with every part's byte ranges, wire sizes and line counts.
void BM_Structure(benchmark::State& state) {
  const auto bytes = corpus_bytes();  // generate the corpus outside the timing
  for (auto _ : state) {
    for (const auto& m : corpus()) benchmark::DoNotOptimize(roost::mime::parse(m));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_Structure)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// What delivery computes for the index: structure, ENVELOPE, BODYSTRUCTURE
// and the sort keys.
void BM_StructureEnvelopeSortKeys(benchmark::State& state) {
  const auto bytes = corpus_bytes();
  for (auto _ : state) {
    for (const auto& text : corpus()) {
      auto m = roost::mime::parse(text);
      benchmark::DoNotOptimize(roost::mime::envelope(m));
      benchmark::DoNotOptimize(roost::mime::body_structure(m, true, roost::mime::Grammar::imap4rev2));
      if (auto* s = m.header.find("Subject")) {
        benchmark::DoNotOptimize(roost::mime::casemap(roost::mime::base_subject(s->raw_value).text));
      }
      if (auto* d = m.header.find("Date")) benchmark::DoNotOptimize(roost::mime::parse_date(d->raw_value));
      if (auto* f = m.header.find("From")) {
        benchmark::DoNotOptimize(roost::mime::casemap(roost::mime::first_display(f->raw_value)));
      }
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_StructureEnvelopeSortKeys)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// Full search-text extraction: structure, then every text part decoded
// (transfer encoding, charset) with HTML reduced to text, and the header
// fields decoded.
void BM_SearchText(benchmark::State& state) {
  const auto bytes = corpus_bytes();
  for (auto _ : state) {
    for (const auto& text : corpus()) {
      benchmark::DoNotOptimize(roost::mime::search_text(roost::mime::parse(text)));
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_SearchText)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// The same on messages under 64 KiB, which are mostly text: the per-byte
// cost of decoding rather than of skipping attachments.
void BM_SearchTextSmallMessages(benchmark::State& state) {
  std::vector<const std::string*> small;
  std::int64_t bytes = 0;
  for (const auto& m : corpus()) {
    if (m.size() < 65536) {
      small.push_back(&m);
      bytes += static_cast<std::int64_t>(m.size());
    }
  }
  for (auto _ : state) {
    for (const auto* m : small) {
      benchmark::DoNotOptimize(roost::mime::search_text(roost::mime::parse(*m)));
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_SearchTextSmallMessages)->Unit(benchmark::kMillisecond)->MinTime(3.0);

// Everything a delivery computes from a message for the index
// (index::analyze: structure, ENVELOPE, BODYSTRUCTURE, sort and thread
// keys, preview, the words of the search text), per message.
void BM_Analyze(benchmark::State& state) {
  const auto bytes = corpus_bytes();
  for (auto _ : state) {
    for (const auto& text : corpus()) benchmark::DoNotOptimize(roost::index::analyze(text, 0));
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["us_per_message"] = benchmark::Counter(
      static_cast<double>(state.iterations() * corpus().size()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::OneK::kIs1000);
}
BENCHMARK(BM_Analyze)->Unit(benchmark::kMillisecond)->MinTime(3.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::printf("corpus: %zu messages, %.1f MiB\n", corpus().size(),
              static_cast<double>(corpus_bytes()) / (1 << 20));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}

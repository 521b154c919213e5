// Counters and gauges, rendered in the Prometheus text exposition format
// (version 0.0.4). prometheus-cpp is not packaged for Debian 12, and the
// format is a few lines of text. Thread-safe; updates are lock-free after a
// series' first use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roost {

class Metrics {
 public:
  enum class Kind { counter, gauge };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // A series handle stays valid for the registry's life; keep it to update
  // without a look-up.
  std::atomic<std::int64_t>& series(std::string_view family, const Labels& labels = {});

  void add(std::string_view family, const Labels& labels, std::int64_t delta = 1) {
    series(family, labels).fetch_add(delta, std::memory_order_relaxed);
  }

  // Runs the collectors (each sets series from values kept elsewhere), then
  // renders every family.
  std::string render();

  // A function render() calls first: for counts another layer keeps.
  void add_collector(std::function<void(Metrics&)> collector);

  // Declares a family with its help text and kind; undeclared families are
  // refused by series() in debug builds.
  void declare(std::string_view family, Kind kind, std::string_view help);

 private:
  struct Family {
    Kind kind = Kind::counter;
    std::string help;
    std::map<Labels, std::unique_ptr<std::atomic<std::int64_t>>> series;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void(Metrics&)>> collectors_;
};

// The families Roost exports; declared once by the server.
void declare_standard_metrics(Metrics& metrics);

}  // namespace roost

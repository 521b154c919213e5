#include "roost/storage/fault_injection.hpp"

#include <array>
#include <atomic>
#include <mutex>

namespace roost::storage {

namespace {

struct Armed {
  std::errc error{};
  int times = 0;
};

std::atomic<bool> any_armed{false};
std::mutex mutex;
std::array<Armed, kFaultPoints> armed;

}  // namespace

void inject_fault(FaultPoint point, std::errc error, int times) {
  std::lock_guard lock(mutex);
  armed[static_cast<std::size_t>(point)] = {error, times};
  any_armed = true;
}

void clear_faults() {
  std::lock_guard lock(mutex);
  armed.fill({});
  any_armed = false;
}

std::optional<std::error_code> injected_fault(FaultPoint point) {
  if (!any_armed.load(std::memory_order_relaxed)) return std::nullopt;
  std::lock_guard lock(mutex);
  Armed& a = armed[static_cast<std::size_t>(point)];
  if (a.times <= 0) return std::nullopt;
  --a.times;
  return std::make_error_code(a.error);
}

}  // namespace roost::storage

// Positions of UIDs in an ascending list, for many lookups in any order
// (SORT ranks, sequence numbers of a sorted answer): a table over the UID
// range when the list is dense, as folders mostly are, so that a lookup is
// one load instead of a binary search missing the cache at every step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace roost::index {

class UidPositions {
 public:
  // `uids` (ascending) must outlive this.
  explicit UidPositions(const std::vector<std::uint32_t>& uids) : uids_(uids) {
    if (uids.empty()) return;
    const std::uint64_t span = std::uint64_t{uids.back()} - uids.front() + 1;
    if (span > 4 * std::uint64_t{uids.size()} + 64) return;
    table_.assign(span, kAbsent);
    for (std::size_t i = 0; i < uids.size(); ++i) table_[uids[i] - uids.front()] = static_cast<std::uint32_t>(i);
  }

  // The 0-based position of `uid`, if the list holds it.
  std::optional<std::uint32_t> find(std::uint32_t uid) const {
    if (uids_.empty() || uid < uids_.front() || uid > uids_.back()) return std::nullopt;
    if (!table_.empty()) {
      const std::uint32_t at = table_[uid - uids_.front()];
      if (at == kAbsent) return std::nullopt;
      return at;
    }
    auto it = std::lower_bound(uids_.begin(), uids_.end(), uid);
    if (*it != uid) return std::nullopt;
    return static_cast<std::uint32_t>(it - uids_.begin());
  }

 private:
  static constexpr std::uint32_t kAbsent = UINT32_MAX;
  const std::vector<std::uint32_t>& uids_;
  std::vector<std::uint32_t> table_;  // by uid - uids_.front()
};

}  // namespace roost::index

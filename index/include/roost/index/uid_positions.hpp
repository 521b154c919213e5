// Positions of UIDs in an ascending list, for many lookups in any order
// (SORT, sequence numbers of a sorted answer). Unless the list is very
// sparse, a bitmap over the UID range with a count before each 64-UID block
// answers a lookup from one 16-byte block: 100,000 UIDs take 25 KB, which
// stays in cache while a sort streams its index pages past (a table of one
// position per UID took 400 KB, and its lookups missed the cache).
#pragma once

#include <algorithm>
#include <bit>
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
    if (span > 64 * std::uint64_t{uids.size()} + 4096) return;
    blocks_.assign((span + 63) / 64, Block{});
    for (std::uint32_t uid : uids) {
      const std::uint32_t offset = uid - uids.front();
      blocks_[offset / 64].bits |= std::uint64_t{1} << (offset % 64);
    }
    std::uint32_t before = 0;
    for (Block& block : blocks_) {
      block.before = before;
      before += static_cast<std::uint32_t>(std::popcount(block.bits));
    }
  }

  // The 0-based position of `uid`, if the list holds it.
  std::optional<std::uint32_t> find(std::uint32_t uid) const {
    if (uids_.empty() || uid < uids_.front() || uid > uids_.back()) return std::nullopt;
    if (!blocks_.empty()) {
      const std::uint32_t offset = uid - uids_.front();
      const Block& block = blocks_[offset / 64];
      const std::uint64_t bit = std::uint64_t{1} << (offset % 64);
      if ((block.bits & bit) == 0) return std::nullopt;
      return block.before + static_cast<std::uint32_t>(std::popcount(block.bits & (bit - 1)));
    }
    auto it = std::lower_bound(uids_.begin(), uids_.end(), uid);
    if (*it != uid) return std::nullopt;
    return static_cast<std::uint32_t>(it - uids_.begin());
  }

 private:
  struct Block {
    std::uint64_t bits = 0;     // bit i: UID front + 64 * block + i is in the list
    std::uint32_t before = 0;   // UIDs of the list in earlier blocks
  };
  const std::vector<std::uint32_t>& uids_;
  std::vector<Block> blocks_;
};

}  // namespace roost::index

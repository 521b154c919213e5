// SORT (RFC 5256 §3, RFC 5957) from the sort index: every key order is
// already on disk, so a sort is a scan of one range per criterion.
#include <algorithm>
#include <numeric>

#include "roost/index/search.hpp"
#include "roost/index/uid_positions.hpp"

namespace roost::index {

namespace {

// For each position of `uids`, the rank of its key in `kind`'s order
// (equal keys share a rank); UINT32_MAX when the message has no entry.
std::vector<std::uint32_t> ranks(const Txn& txn, SortKind kind, const std::vector<Uid>& uids,
                                 std::vector<std::uint32_t>* scan_order) {
  std::vector<std::uint32_t> rank(uids.size(), UINT32_MAX);
  const char tag = static_cast<char>(kind);
  Cursor cursor(txn, txn.env().dbi(Db::sort));
  std::string_view key;
  std::string_view previous;
  std::uint32_t current = 0;
  const UidPositions positions(uids);
  bool more = cursor.get(MDB_SET_RANGE, &key, nullptr, std::string(1, tag));
  while (more && !key.empty() && key[0] == tag && key.size() >= 5) {
    if (auto pos = positions.find(read_be32(key.substr(key.size() - 4)))) {
      std::string_view value = key.substr(1, key.size() - 5);
      if (value != previous) {
        ++current;
        previous = value;
      }
      rank[*pos] = current;
      if (scan_order != nullptr) scan_order->push_back(*pos);
    }
    more = cursor.get(MDB_NEXT, &key);
  }
  return rank;
}

}  // namespace

std::expected<std::vector<Uid>, LmdbError> sort_messages(const Txn& txn, const std::vector<SortCriterion>& criteria,
                                                const std::vector<Uid>& uids) {
  if (criteria.empty() || uids.empty()) return uids;
  std::vector<std::vector<std::uint32_t>> all_ranks;
  std::vector<std::uint32_t> scan_order;
  for (std::size_t i = 0; i < criteria.size(); ++i)
    all_ranks.push_back(ranks(txn, criteria[i].kind, uids, i == 0 && criteria.size() == 1 ? &scan_order : nullptr));

  std::vector<Uid> out;
  out.reserve(uids.size());
  if (criteria.size() == 1 && scan_order.size() == uids.size()) {
    // One key: the scan order is the answer (ties are in UID order because
    // the UID ends each index key). REVERSE turns the groups around but keeps
    // each group in UID order.
    if (!criteria[0].reverse) {
      for (auto pos : scan_order) out.push_back(uids[pos]);
      return out;
    }
    const auto& rank = all_ranks[0];
    std::size_t end = scan_order.size();
    while (end > 0) {
      std::size_t begin = end - 1;
      while (begin > 0 && rank[scan_order[begin - 1]] == rank[scan_order[end - 1]]) --begin;
      for (std::size_t i = begin; i < end; ++i) out.push_back(uids[scan_order[i]]);
      end = begin;
    }
    return out;
  }
  std::vector<std::uint32_t> order(uids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    for (std::size_t i = 0; i < criteria.size(); ++i) {
      std::uint32_t ra = all_ranks[i][a], rb = all_ranks[i][b];
      if (ra != rb) return criteria[i].reverse ? ra > rb : ra < rb;
    }
    return a < b;
  });
  for (auto pos : order) out.push_back(uids[pos]);
  return out;
}

}  // namespace roost::index

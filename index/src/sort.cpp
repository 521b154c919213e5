// SORT (RFC 5256 §3, RFC 5957) from the sort index: every key order is
// already on disk (but for the few messages still pending a merge), so a
// sort is a scan of one range per criterion.
#include <algorithm>
#include <numeric>

#include "roost/index/search.hpp"
#include "roost/index/uid_positions.hpp"

namespace roost::index {

namespace {

// Walks `kind`'s order over the messages `positions` holds, calling
// visit(uid, position, starts_group) for each in key order; a group is a run
// of equal keys. The sort index and the pending messages' entries are
// merged as they go.
template <class Visit>
std::expected<void, LmdbError> walk(const Txn& txn, SortKind kind, const UidPositions& positions, Visit&& visit) {
  auto pending = pending_sort_entries(txn, kind);
  if (!pending) return std::unexpected(pending.error());
  const char tag = static_cast<char>(kind);
  std::string_view previous;
  bool first = true;
  auto take = [&](std::string_view entry) {
    const Uid uid = read_be32(entry.substr(entry.size() - 4));
    if (auto pos = positions.find(uid)) {
      std::string_view value = entry.substr(1, entry.size() - 5);
      visit(uid, *pos, first || value != previous);
      first = false;
      previous = value;
    }
  };
  std::size_t next = 0;
  Cursor cursor(txn, txn.env().dbi(Db::sort));
  std::string_view key;
  bool more = cursor.get(MDB_SET_RANGE, &key, nullptr, std::string(1, tag));
  while (more && !key.empty() && key[0] == tag && key.size() >= 5) {
    for (; next < pending->size() && std::string_view((*pending)[next].first) < key; ++next) take((*pending)[next].first);
    take(key);
    more = cursor.get(MDB_NEXT, &key);
  }
  for (; next < pending->size(); ++next) take((*pending)[next].first);
  return {};
}

}  // namespace

std::expected<std::vector<Uid>, LmdbError> sort_messages(const Txn& txn, const std::vector<SortCriterion>& criteria,
                                                const std::vector<Uid>& uids) {
  if (criteria.empty() || uids.empty()) return uids;
  const UidPositions positions(uids);
  if (criteria.size() == 1) {
    // One key: the scan order is the answer (ties are in UID order because
    // the UID ends each index key). REVERSE turns the groups around but keeps
    // each group in UID order. No rank per message is needed, and the UIDs
    // come from the keys, in the order they are needed.
    std::vector<Uid> order;
    std::vector<bool> starts_group;
    order.reserve(uids.size());
    if (criteria[0].reverse) starts_group.reserve(uids.size());
    auto walked = walk(txn, criteria[0].kind, positions, [&](Uid uid, std::uint32_t, bool starts) {
      order.push_back(uid);
      if (criteria[0].reverse) starts_group.push_back(starts);
    });
    if (!walked) return std::unexpected(walked.error());
    if (order.size() == uids.size()) {
      if (!criteria[0].reverse) return order;
      std::vector<Uid> out;
      out.reserve(order.size());
      std::size_t end = order.size();
      while (end > 0) {
        std::size_t begin = end - 1;
        while (!starts_group[begin]) --begin;  // the first entry starts a group
        out.insert(out.end(), order.begin() + static_cast<std::ptrdiff_t>(begin),
                   order.begin() + static_cast<std::ptrdiff_t>(end));
        end = begin;
      }
      return out;
    }
    // Some messages have no entry (they sort last): ranks below.
  }
  // For each criterion and position of `uids`, the rank of its key (equal
  // keys share one); UINT32_MAX when the message has no entry.
  std::vector<std::vector<std::uint32_t>> all_ranks;
  for (const auto& criterion : criteria) {
    std::vector<std::uint32_t> rank(uids.size(), UINT32_MAX);
    std::uint32_t current = 0;
    auto walked = walk(txn, criterion.kind, positions, [&](Uid, std::uint32_t pos, bool starts) {
      if (starts) ++current;
      rank[pos] = current;
    });
    if (!walked) return std::unexpected(walked.error());
    all_ranks.push_back(std::move(rank));
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
  std::vector<Uid> out;
  out.reserve(uids.size());
  for (auto pos : order) out.push_back(uids[pos]);
  return out;
}

}  // namespace roost::index

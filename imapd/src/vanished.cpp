#include "vanished.hpp"

#include <algorithm>

#include "roost/imapd/writer.hpp"

namespace roost::imap {
namespace {

using storage::Uid;

// Walks a sequence set's numbers in the order written, `*` as `star`,
// without expanding it (a client may write 1:4294967295).
class SetWalker {
 public:
  SetWalker(const SequenceSet& set, std::uint32_t star) : set_(set), star_(star) { start_range(); }
  std::optional<std::uint32_t> next() {
    while (range_ < set_.ranges.size()) {
      if (!done_) {
        std::uint32_t value = at_;
        if (at_ == last_) done_ = true;
        else at_ += step_;
        return value;
      }
      ++range_;
      start_range();
    }
    return std::nullopt;
  }

 private:
  void start_range() {
    if (range_ >= set_.ranges.size()) return;
    const auto& r = set_.ranges[range_];
    at_ = r.first == kStar ? star_ : r.first;
    last_ = r.last == kStar ? star_ : r.last;
    step_ = at_ <= last_ ? 1 : -1;
    done_ = false;
  }
  const SequenceSet& set_;
  std::uint32_t star_;
  std::size_t range_ = 0;
  std::uint32_t at_ = 0, last_ = 0;
  int step_ = 1;
  bool done_ = true;
};

std::string format_ranges(const UidRanges& ranges) {
  std::string out;
  for (const auto& [a, b] : ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(a);
    if (b != a) out += ":" + std::to_string(b);
  }
  return out;
}

}  // namespace

UidRanges uid_ranges(const SequenceSet& set, Uid star) {
  UidRanges ranges;
  for (const auto& r : set.ranges) {
    Uid a = r.first == kStar ? star : r.first;
    Uid b = r.last == kStar ? star : r.last;
    if (a > b) std::swap(a, b);
    ranges.emplace_back(a, b);
  }
  std::sort(ranges.begin(), ranges.end());
  UidRanges merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1ull) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  return merged;
}

bool contains(const UidRanges& ranges, Uid uid) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), uid,
                             [](Uid u, const std::pair<Uid, Uid>& r) { return u < r.first; });
  return it != ranges.begin() && uid <= std::prev(it)->second;
}

Uid sequence_match_floor(const SequenceSet& sequences, const SequenceSet& uids, const std::vector<Uid>& view_uids) {
  const auto size = static_cast<std::uint32_t>(view_uids.size());
  SetWalker seqs(sequences, size), known(uids, view_uids.empty() ? 0 : view_uids.back());
  // Stops at the first pair that does not match, which comes by the time
  // sequence numbers pass the view's size: bounded whatever was written.
  Uid floor = 0;
  for (;;) {
    auto seq = seqs.next();
    auto uid = known.next();
    if (!seq || !uid || *seq < 1 || *seq > size || view_uids[*seq - 1] != *uid) return floor;
    floor = *uid;
  }
}

std::string vanished_since(const storage::FolderView::ChangesSince& changes, const UidRanges& known, Uid floor,
                           Uid uidnext, const std::vector<Uid>& present) {
  auto wanted = [&](Uid uid) {
    return uid > floor && uid < uidnext && contains(known, uid) &&
           !std::binary_search(present.begin(), present.end(), uid);
  };
  if (changes.expunges_complete) {
    std::vector<Uid> gone;
    for (Uid uid : changes.expunged)
      if (wanted(uid)) gone.push_back(uid);
    return gone.empty() ? std::string() : compact_set(gone);
  }
  // No record reaches back that far: everything the client names that is
  // not here any more (RFC 7162 §5.1), as ranges between present UIDs.
  UidRanges gaps;
  for (auto [a, b] : known) {
    a = std::max<Uid>(a, floor + 1);
    if (uidnext == 0) break;
    b = std::min<Uid>(b, uidnext - 1);
    if (a > b) continue;
    auto it = std::lower_bound(present.begin(), present.end(), a);
    Uid from = a;
    for (; it != present.end() && *it <= b; ++it) {
      if (*it > from) gaps.emplace_back(from, *it - 1);
      from = *it + 1;
    }
    if (from <= b) gaps.emplace_back(from, b);
  }
  return format_ranges(gaps);
}

}  // namespace roost::imap

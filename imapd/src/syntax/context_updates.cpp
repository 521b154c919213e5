#include "roost/imapd/context_updates.hpp"

#include <algorithm>

#include "roost/imapd/writer.hpp"

namespace roost::imap {
namespace {

struct Run {
  std::size_t position = 0;  // 1-based; 0 in a SEARCH context
  std::vector<std::uint32_t> numbers;
};

std::string esearch_line(const ContextChange& change, std::string_view item, const std::vector<Run>& runs) {
  if (runs.empty()) return {};
  std::string out = "* ESEARCH (TAG ";
  append_string(out, change.tag);
  out += ')';
  if (change.uid) out += " UID";
  out += ' ';
  out += item;
  out += " (";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(runs[i].position);
    out += ' ';
    out += compact_set(runs[i].numbers);
  }
  out += ")\r\n";
  return out;
}

bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t uid) {
  return std::binary_search(sorted.begin(), sorted.end(), uid);
}

std::uint32_t number_in(const std::vector<std::uint32_t>& uids, std::uint32_t uid) {
  return static_cast<std::uint32_t>(std::lower_bound(uids.begin(), uids.end(), uid) - uids.begin() + 1);
}

}  // namespace

ContextLines context_lines(const ContextChange& change) {
  const auto& before = change.before;
  const auto& after = change.after;
  std::vector<std::uint32_t> before_sorted = before, after_sorted = after;
  std::sort(before_sorted.begin(), before_sorted.end());
  std::sort(after_sorted.begin(), after_sorted.end());
  auto old_number = [&](std::uint32_t uid) { return change.uid ? uid : number_in(change.old_uids, uid); };
  auto new_number = [&](std::uint32_t uid) { return change.uid ? uid : number_in(change.new_uids, uid); };

  std::vector<Run> removals, additions;
  if (!change.sorted) {
    Run removed, added;
    for (auto uid : before_sorted)
      if (!contains(after_sorted, uid)) removed.numbers.push_back(old_number(uid));
    for (auto uid : after_sorted)
      if (!contains(before_sorted, uid)) added.numbers.push_back(new_number(uid));
    if (!removed.numbers.empty()) removals.push_back(std::move(removed));
    if (!added.numbers.empty()) additions.push_back(std::move(added));
  } else {
    std::vector<std::uint32_t> kept, kept_in_new_order;
    for (auto uid : before)
      if (contains(after_sorted, uid)) kept.push_back(uid);
    for (auto uid : after)
      if (contains(before_sorted, uid)) kept_in_new_order.push_back(uid);
    // Should the order of what stays ever differ, everything goes and comes back.
    const bool same_order = kept == kept_in_new_order;
    auto stays = [&](std::uint32_t uid) { return same_order && contains(after_sorted, uid); };
    auto stayed = [&](std::uint32_t uid) { return same_order && contains(before_sorted, uid); };
    for (std::size_t end = before.size(); end > 0;) {
      if (stays(before[end - 1])) {
        --end;
        continue;
      }
      std::size_t first = end;
      while (first > 0 && !stays(before[first - 1])) --first;
      Run run;
      run.position = first + 1;
      for (std::size_t k = first; k < end; ++k) run.numbers.push_back(old_number(before[k]));
      removals.push_back(std::move(run));
      end = first;
    }
    for (std::size_t j = 0; j < after.size();) {
      if (stayed(after[j])) {
        ++j;
        continue;
      }
      Run run;
      run.position = j + 1;
      while (j < after.size() && !stayed(after[j])) run.numbers.push_back(new_number(after[j++]));
      additions.push_back(std::move(run));
    }
  }
  return ContextLines{esearch_line(change, "REMOVEFROM", removals), esearch_line(change, "ADDTO", additions)};
}

}  // namespace roost::imap

// SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO, ESORT and CONTEXT=SORT
// RFC 5267 §3.1, §4, RELEVANCY RFC 6203 §6): answered from the sort orders
// the index keeps from delivery on.
#include <algorithm>
#include <numeric>

#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> sort(ImapSession& s, const Request& r) {
  const auto& so = std::get<Sort>(r.command);
  if (auto refused = check_charset(so.charset)) co_return *refused;
  const bool update = wants_update(so.returns);
  if (update)
    if (auto refused = check_update_tag(s, r)) co_return *refused;
  // RFC 6203 §6: RELEVANCY (as a return option or an order) needs a FUZZY
  // key; as an order it comes first here, the other criteria breaking ties.
  const bool scored = wants_relevancy(so.returns);
  const bool by_relevancy = std::any_of(so.criteria.begin(), so.criteria.end(),
                                        [](const SortCriterion& c) { return c.key == SortKey::relevancy; });
  if ((scored || by_relevancy) && !uses_fuzzy(so.key)) co_return bad("[CLIENTBUG] RELEVANCY needs a FUZZY search key");
  if (by_relevancy && so.criteria.front().key != SortKey::relevancy)
    co_return bad("RELEVANCY must be the first sort criterion");
  if (std::count_if(so.criteria.begin(), so.criteria.end(),
                    [](const SortCriterion& c) { return c.key == SortKey::relevancy; }) > 1)
    co_return bad("RELEVANCY given twice");
  Reply refusal;
  auto key = index_key(s, so.key, refusal);
  if (!key) co_return refusal;
  std::vector<index::SortCriterion> criteria;
  for (const auto& c : so.criteria) {
    if (c.key == SortKey::relevancy) continue;
    index::SortKind kind = index::SortKind::arrival;
    switch (c.key) {
      case SortKey::arrival: kind = index::SortKind::arrival; break;
      case SortKey::cc: kind = index::SortKind::cc; break;
      case SortKey::date: kind = index::SortKind::date; break;
      case SortKey::from: kind = index::SortKind::from; break;
      case SortKey::size: kind = index::SortKind::size; break;
      case SortKey::subject: kind = index::SortKind::subject; break;
      case SortKey::to: kind = index::SortKind::to; break;
      case SortKey::display_from: kind = index::SortKind::display_from; break;
      case SortKey::display_to: kind = index::SortKind::display_to; break;
      case SortKey::relevancy: break;
    }
    criteria.push_back(index::SortCriterion{kind, c.reverse});
  }
  const bool with_modseq = uses_modseq(so.key);
  if (with_modseq) co_await s.enable_condstore();
  storage::Result<std::vector<storage::Uid>> sorted;
  storage::Result<storage::Modseq> highest = storage::Modseq{0};
  storage::Result<std::vector<std::uint8_t>> scores;
  auto work = [&]() {
    sorted = s.view->sort(criteria.empty() ? std::vector<index::SortCriterion>{{index::SortKind::arrival, false}}
                                           : criteria,
                          *key);
    if (sorted && with_modseq) highest = highest_modseq_of(*s.view, *sorted);
    if (sorted && (scored || by_relevancy)) scores = relevancy(s, so.key, *sorted);
    if (sorted && scores && by_relevancy) {
      // The highest score first (§6), REVERSE the lowest; ties keep the order above.
      const bool reverse = so.criteria.front().reverse;
      std::vector<std::size_t> order(sorted->size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return reverse ? (*scores)[a] < (*scores)[b] : (*scores)[a] > (*scores)[b];
      });
      std::vector<storage::Uid> uids;
      std::vector<std::uint8_t> ranked;
      for (auto i : order) {
        uids.push_back((*sorted)[i]);
        ranked.push_back((*scores)[i]);
      }
      *sorted = std::move(uids);
      *scores = std::move(ranked);
    }
  };
  co_await s.blocking(work);
  if (!sorted) co_return storage_error(s, sorted.error());
  if (!highest) co_return storage_error(s, highest.error());
  if (!scores) co_return storage_error(s, scores.error());
  // In sort order.
  const std::vector<std::uint32_t> numbers = r.uid ? *sorted : s.view->sequences_of(*sorted);
  if (so.returns) {
    // ESORT (RFC 5267 §3.1): ESEARCH in sort order.
    const auto line = esearch(s, r, *so.returns, numbers,
                              with_modseq && !numbers.empty() ? std::optional<storage::Modseq>(*highest)
                                                              : std::nullopt,
                              {}, scored ? &*scores : nullptr);
    if (!line.empty()) co_await s.send(line);
    if (update && by_relevancy) {
      // An order by relevancy is not one ADDTO positions can follow.
      std::string refused = "* NO [NOUPDATE ";
      append_string(refused, r.tag);
      refused += "] No updates for a RELEVANCY order\r\n";
      co_await s.send(refused);
    } else if (update) {
      const std::string refused =
          start_update(s, UpdateContext{r.tag, r.uid, std::move(criteria), std::move(*key), std::move(*sorted),
                                        so.returns->update_fetch});
      if (!refused.empty()) co_await s.send(refused);
    }
    if (line.empty()) co_return ok("SORT completed, result saved");
    co_return ok(r.uid ? "UID SORT completed" : "SORT completed");
  }
  std::string out = "* SORT";
  append_numbers(out, numbers);
  // RFC 7162 §3.1.9: the highest MODSEQ of a non-empty answer.
  if (with_modseq && !numbers.empty()) out += " (MODSEQ " + std::to_string(*highest) + ")";
  out += "\r\n";
  co_await s.send(out);
  co_return ok(r.uid ? "UID SORT completed" : "SORT completed");
}

}  // namespace roost::imap::commands

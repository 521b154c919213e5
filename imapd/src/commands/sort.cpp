// SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO, ESORT and CONTEXT=SORT
// RFC 5267 §3.1, §4): answered from the sort orders the index keeps from
// delivery on.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> sort(ImapSession& s, const Request& r) {
  const auto& so = std::get<Sort>(r.command);
  if (auto refused = check_charset(so.charset)) co_return *refused;
  const bool update = wants_update(so.returns);
  if (update)
    if (auto refused = check_update_tag(s, r)) co_return *refused;
  Reply refusal;
  auto key = index_key(s, so.key, refusal);
  if (!key) co_return refusal;
  std::vector<index::SortCriterion> criteria;
  for (const auto& c : so.criteria) {
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
    }
    criteria.push_back(index::SortCriterion{kind, c.reverse});
  }
  const bool with_modseq = uses_modseq(so.key);
  if (with_modseq) co_await s.enable_condstore();
  storage::Result<std::vector<storage::Uid>> sorted;
  storage::Result<storage::Modseq> highest = storage::Modseq{0};
  auto work = [&]() {
    sorted = s.view->sort(criteria, *key);
    if (sorted && with_modseq) highest = highest_modseq_of(*s.view, *sorted);
  };
  co_await s.blocking(work);
  if (!sorted) co_return storage_error(s, sorted.error());
  if (!highest) co_return storage_error(s, highest.error());
  // In sort order.
  const std::vector<std::uint32_t> numbers = r.uid ? *sorted : s.view->sequences_of(*sorted);
  if (so.returns) {
    // ESORT (RFC 5267 §3.1): ESEARCH in sort order.
    const auto line = esearch(s, r, *so.returns, numbers,
                              with_modseq && !numbers.empty() ? std::optional<storage::Modseq>(*highest)
                                                              : std::nullopt);
    if (!line.empty()) co_await s.send(line);
    if (update) {
      const std::string refused =
          start_update(s, UpdateContext{r.tag, r.uid, std::move(criteria), std::move(*key), std::move(*sorted)});
      if (!refused.empty()) co_await s.send(refused);
    }
    if (line.empty()) co_return ok("SORT completed, result saved");
    co_return ok(r.uid ? "UID SORT completed" : "SORT completed");
  }
  std::string out = "* SORT";
  for (auto n : numbers) out += " " + std::to_string(n);
  // RFC 7162 §3.1.9: the highest MODSEQ of a non-empty answer.
  if (with_modseq && !numbers.empty()) out += " (MODSEQ " + std::to_string(*highest) + ")";
  out += "\r\n";
  co_await s.send(out);
  co_return ok(r.uid ? "UID SORT completed" : "SORT completed");
}

}  // namespace roost::imap::commands

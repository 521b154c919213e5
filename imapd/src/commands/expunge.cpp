// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1): storage removes
// the \Deleted messages; the EXPUNGE responses come from the view's refresh
// that follows every command, highest sequence number first.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> expunge(ImapSession& s, const Request& r) {
  const auto& e = std::get<Expunge>(r.command);
  if (s.view->read_only()) co_return no("[READ-ONLY] Mailbox is read-only");
  std::optional<std::vector<storage::Uid>> only;
  if (e.uids) {
    auto uids = s.resolve(*e.uids, true);
    only = std::move(*uids);
  }
  storage::Result<std::vector<storage::Uid>> removed;
  auto work = [&]() { removed = s.view->expunge(only); };
  co_await s.blocking(work);
  if (!removed) co_return storage_error(s, removed.error());
  co_return ok(e.uids ? "UID EXPUNGE completed" : "EXPUNGE completed");
}

}  // namespace roost::imap::commands

// CLOSE (RFC 9051 §6.4.1: expunges \Deleted messages silently unless the
// folder is read-only) and UNSELECT (RFC 3691: no expunge).
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> close(ImapSession& s, const Request& r) {
  const bool expunge = std::holds_alternative<Close>(r.command) && !s.view->read_only();
  storage::Result<std::vector<storage::Uid>> removed;
  if (expunge) {
    auto work = [&]() { removed = s.view->expunge(); };
    co_await s.blocking(work);
  }
  s.deselect();
  s.state = State::authenticated;
  s.net.set_state("authenticated");
  if (expunge && !removed) co_return storage_error(s, removed.error());
  co_return ok(std::holds_alternative<Close>(r.command) ? "CLOSE completed" : "UNSELECT completed");
}

}  // namespace roost::imap::commands

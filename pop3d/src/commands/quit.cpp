// QUIT (RFC 1939 §6): in TRANSACTION state, the UPDATE state. Messages
// marked with DELE are removed in one storage call (one index transaction,
// no flag renames first), which IMAP sessions see as ordinary expunges; retrieved messages get \Seen first (when
// [pop3] mark_seen is on). Only then is the maildrop lock released.
#include "commands.hpp"
#include "roost/core/log.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> quit(Pop3Session& s, const Command&) {
  if (s.state == State::authorization) {
    s.state = State::done;
    co_await s.send("+OK Bye\r\n");
    co_return;
  }
  std::vector<storage::Uid> deleted, retrieved;
  for (const auto& m : s.messages) {
    if (m.deleted) deleted.push_back(m.uid);
    else if (m.retrieved) retrieved.push_back(m.uid);
  }
  const bool mark_seen = s.config().pop3.mark_seen;
  std::optional<storage::Error> seen_failed, delete_failed;
  std::size_t removed = 0;
  auto work = [&]() {
    if (mark_seen && !retrieved.empty()) {
      storage::Flags seen;
      seen.system = index::flag::seen;
      if (auto stored = s.inbox->store(retrieved, storage::StoreMode::add, seen); !stored) seen_failed = stored.error();
    }
    if (deleted.empty()) return;
    // Messages another session expunged meanwhile are gone already: not a failure.
    auto expunged = s.inbox->remove(deleted);
    if (!expunged) delete_failed = expunged.error();
    else removed = expunged->size();
  };
  co_await s.blocking(work);
  s.state = State::done;
  s.lock.reset();
  log::info(s.net.log_context(), "pop3_update",
            {{"deleted", deleted.size()}, {"removed", removed}, {"seen", mark_seen ? retrieved.size() : 0}});
  for (const auto& failed : {seen_failed, delete_failed}) {
    if (failed)
      log::warning(s.net.log_context(), "storage_error",
                   {{"kind", storage::describe(failed->kind)}, {"detail", failed->detail}});
  }
  if (delete_failed) {
    co_await s.send("-ERR [SYS/TEMP] Some deleted messages were not removed\r\n");
    co_return;
  }
  std::string response = "+OK Bye; " + std::to_string(removed) + " messages removed\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

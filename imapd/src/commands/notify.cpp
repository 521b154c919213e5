// NOTIFY (RFC 5465): NONE stops all notifications; SET replaces them. The
// event groups were checked by the parser (§5, §6.1: BAD); events this
// server cannot report are NO [BADEVENT] with the ones it can (§3.1).
// AnnotationChange needs per-message annotations (RFC 5257), which Roost
// does not keep. The implicit NOOP (§3.1) is the selected folder's news
// that every command ends with.
#include "../notify.hpp"
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> notify(ImapSession& s, const Request& r) {
  const auto& n = std::get<Notify>(r.command);
  if (n.none) {
    s.notify.reset();
    co_return ok("NOTIFY NONE completed");
  }
  for (const auto& group : n.groups) {
    const bool annotation = std::find(group.events.begin(), group.events.end(), NotifyEvent::annotation_change) !=
                            group.events.end();
    if (annotation || !group.unknown_events.empty())
      co_return no("[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange "
                   "MailboxMetadataChange ServerMetadataChange)] Unsupported event");
  }
  auto refused = co_await start_notify(s, n);
  if (refused) co_return no(*refused);
  co_return ok("NOTIFY completed");
}

}  // namespace roost::imap::commands

// CANCELUPDATE (RFC 5267 §4.3.5): no more ADDTO/REMOVEFROM for the named
// searches. A tag that names no update context is not an error: the client
// wants no updates for it, and gets none.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> cancelupdate(ImapSession& s, const Request& r) {
  for (const auto& tag : std::get<CancelUpdate>(r.command).tags)
    std::erase_if(s.update_contexts, [&](const UpdateContext& c) { return c.tag == tag; });
  co_return ok("CANCELUPDATE completed, no further updates");
}

}  // namespace roost::imap::commands

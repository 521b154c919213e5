// NOOP and CHECK (RFC 9051 §6.1.2; CHECK is RFC 3501 §6.4.1): nothing to do
// beyond what every command does after running, reporting the selected
// folder's news. Storage has no pending state for CHECK to flush: every
// change is durable when its command completes.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> noop(ImapSession&, const Request& r) {
  co_return ok(std::holds_alternative<Check>(r.command) ? "CHECK completed" : "NOOP completed");
}

}  // namespace roost::imap::commands

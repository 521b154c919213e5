// LOGOUT (RFC 9051 §6.1.3): BYE, then the tagged OK, then the connection ends.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> logout(ImapSession& s, const Request&) {
  s.deselect();
  s.state = State::logout;
  co_return ok("LOGOUT completed");
}

}  // namespace roost::imap::commands

// UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the
// same connection (and TLS), as if the login never happened.
#include "../notify.hpp"
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> unauthenticate(ImapSession& s, const Request&) {
  s.deselect();
  s.notify.reset();
  s.mail.reset();
  s.known_keywords.clear();
  s.rev2 = false;
  s.utf8_accept = false;
  s.net.set_user("");
  s.net.set_state("connected");
  s.state = State::not_authenticated;
  co_return ok("Not authenticated any more");
}

}  // namespace roost::imap::commands

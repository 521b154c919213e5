// STARTTLS (RFC 9051 §6.2.1): the tagged OK, then the handshake. Anything
// the client pipelined after the command was sent in clear text and is
// dropped unread (RFC 9051 §11.1: a STARTTLS injection).
#include "commands.hpp"
#include "roost/core/starttls.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> starttls(ImapSession& s, const Request& r) {
  if (!tls_upgrade_offered(s.net)) co_return bad("[CLIENTBUG] STARTTLS is not offered here");
  s.tagged(r, "OK", "Begin TLS negotiation now");
  const bool upgraded = co_await upgrade_to_tls(s.net);
  if (!upgraded) s.lost = true;
  co_return Reply{.sent = true};
}

}  // namespace roost::imap::commands

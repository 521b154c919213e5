// STLS (RFC 2595 §4): "+OK", then the handshake. Anything the client
// pipelined after the command came in clear text and is dropped unread.
#include "commands.hpp"
#include "roost/core/starttls.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> stls(Pop3Session& s, const Command&) {
  if (!tls_upgrade_offered(s.net)) {
    co_await s.send("-ERR STLS is not offered here\r\n");
    co_return;
  }
  co_await s.send("+OK Begin TLS negotiation now\r\n");
  if (!s.lost) {
    const bool upgraded = co_await upgrade_to_tls(s.net);
    if (!upgraded) s.lost = true;
  }
  s.user_name.clear();
}

}  // namespace roost::pop3::commands

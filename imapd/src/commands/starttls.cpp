// STARTTLS (RFC 9051 §6.2.1): the tagged OK, then the handshake. Anything
// the client pipelined after the command was sent in clear text and is
// dropped unread (RFC 9051 §11.1: a STARTTLS injection).
#include "commands.hpp"
#include "roost/core/log.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> starttls(ImapSession& s, const Request& r) {
  auto tls = s.net.server.tls();
  if (s.net.listener.tls != TlsMode::starttls || s.conn().tls_active() || !tls)
    co_return bad("[CLIENTBUG] STARTTLS is not offered here");
  s.tagged(r, "OK", "Begin TLS negotiation now");
  if (!co_await s.conn().flush(s.config().limits.write_timeout)) {
    s.lost = true;
    co_return Reply{.sent = true};
  }
  if (std::size_t dropped = s.conn().discard_buffered_input(); dropped > 0)
    log::warning(s.net.log_context(), "starttls_injection", {{"bytes", dropped}});
  auto started = co_await s.conn().start_tls(tls->native(), s.config().limits.login_timeout);
  if (!started) {
    log::info(s.net.log_context(), "tls_failed", {{"error", started.error()}});
    s.lost = true;
  }
  co_return Reply{.sent = true};
}

}  // namespace roost::imap::commands

// STLS (RFC 2595 §4): "+OK", then the handshake. Anything the client
// pipelined after the command came in clear text and is dropped unread.
#include "commands.hpp"
#include "roost/core/log.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> stls(Pop3Session& s, const Command&) {
  auto tls = s.net.server.tls();
  if (s.net.listener.tls != TlsMode::starttls || s.conn().tls_active() || !tls) {
    co_await s.send("-ERR STLS is not offered here\r\n");
    co_return;
  }
  co_await s.send("+OK Begin TLS negotiation now\r\n");
  if (s.lost || !co_await s.conn().flush(s.config().limits.write_timeout)) {
    s.lost = true;
    co_return;
  }
  if (std::size_t dropped = s.conn().discard_buffered_input(); dropped > 0)
    log::warning(s.net.log_context(), "starttls_injection", {{"bytes", dropped}});
  auto started = co_await s.conn().start_tls(tls->native(), s.config().limits.login_timeout);
  if (!started) {
    log::info(s.net.log_context(), "tls_failed", {{"error", started.error()}});
    s.lost = true;
  }
  s.user_name.clear();
}

}  // namespace roost::pop3::commands

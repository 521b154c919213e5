#include "roost/core/starttls.hpp"

#include "roost/core/connection.hpp"
#include "roost/core/log.hpp"

namespace roost {

bool tls_upgrade_offered(const Session& session) {
  return session.listener.tls == TlsMode::starttls && !session.connection->tls_active() &&
         session.server.tls() != nullptr;
}

asio::awaitable<bool> upgrade_to_tls(Session& session) {
  Connection& conn = *session.connection;
  const auto& limits = session.config->limits;
  if (!co_await conn.flush(limits.write_timeout)) co_return false;
  if (std::size_t dropped = conn.discard_buffered_input(); dropped > 0)
    log::warning(session.log_context(), "starttls_injection", {{"bytes", dropped}});
  const auto tls = session.server.tls();
  if (!tls) co_return false;
  auto started = co_await conn.start_tls(tls->native(), limits.login_timeout);
  if (!started) {
    log::info(session.log_context(), "tls_failed", {{"error", started.error()}});
    co_return false;
  }
  co_return true;
}

}  // namespace roost

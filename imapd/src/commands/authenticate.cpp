// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959), through the
// Cyrus SASL plumbing shared with POP3.
#include "commands.hpp"
#include "roost/core/session_auth.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> authenticate(ImapSession& s, const Request& r) {
  const auto& a = std::get<Authenticate>(r.command);
  std::optional<std::string> initial;
  if (a.initial) {
    initial = decode_initial_response(*a.initial);
    if (!initial) co_return bad("[CLIENTBUG] Invalid base64 in the initial response");
  }
  auto exchange = base64_line_exchange(s.net);
  auto outcome = co_await authenticate_sasl(s.net, a.mechanism, initial, exchange);
  co_return co_await finish_login(s, outcome);
}

}  // namespace roost::imap::commands

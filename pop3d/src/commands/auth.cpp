// AUTH (RFC 5034) through the Cyrus SASL plumbing shared with IMAP, with
// initial responses; AUTH alone lists the mechanisms, as clients that
// predate CAPA expect.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> auth(Pop3Session& s, const Command& c) {
  const auto& a = std::get<Auth>(c);
  if (a.mechanism.empty()) {
    auto mechanisms = co_await offered_mechanisms(s.net);
    std::string response = "+OK Mechanisms follow\r\n";
    for (const auto& m : mechanisms) response += m + "\r\n";
    response += ".\r\n";
    co_await s.send(response);
    co_return;
  }
  std::optional<std::string> initial;
  if (a.initial) {
    initial = decode_initial_response(*a.initial);
    if (!initial) {
      co_await s.send("-ERR Invalid base64 in the initial response\r\n");
      co_return;
    }
  }
  auto exchange = base64_line_exchange(s.net);
  auto outcome = co_await authenticate_sasl(s.net, a.mechanism, initial, exchange);
  co_await finish_login(s, outcome);
}

}  // namespace roost::pop3::commands

// AUTH (RFC 5034) through the Cyrus SASL plumbing shared with IMAP, with
// initial responses; AUTH alone lists the mechanisms, as clients that
// predate CAPA expect.
#include "commands.hpp"
#include "roost/core/base64.hpp"

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
    if (*a.initial == "=") {
      initial = std::string();
    } else {
      initial = base64_decode(*a.initial);
      if (!initial) {
        co_await s.send("-ERR Invalid base64 in the initial response\r\n");
        co_return;
      }
    }
  }
  auto& conn = s.conn();
  const auto& limits = s.config().limits;
  auto timeout = s.config().auth.timeout;
  auto outcome = co_await authenticate_sasl(
      s.net, a.mechanism, initial, [&](std::string_view challenge) -> asio::awaitable<ClientAnswer> {
        conn.send("+ " + base64_encode(challenge) + "\r\n");
        if (!co_await conn.flush(limits.write_timeout)) co_return ClientAnswer{};
        std::string answer;
        if (co_await conn.read_line(answer, limits.max_line_length, timeout) != ReadStatus::ok) co_return ClientAnswer{};
        if (answer == "*") co_return ClientAnswer{ClientAnswer::Kind::cancelled, {}};
        auto decoded = base64_decode(answer);
        if (!decoded) co_return ClientAnswer{ClientAnswer::Kind::malformed, {}};
        co_return ClientAnswer{ClientAnswer::Kind::data, std::move(*decoded)};
      });
  co_await finish_login(s, outcome);
}

}  // namespace roost::pop3::commands

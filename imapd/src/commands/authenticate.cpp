// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959), through the
// Cyrus SASL plumbing shared with POP3.
#include "commands.hpp"
#include "roost/core/base64.hpp"
#include "roost/core/session_auth.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> authenticate(ImapSession& s, const Request& r) {
  const auto& a = std::get<Authenticate>(r.command);
  std::optional<std::string> initial;
  if (a.initial) {
    if (*a.initial == "=") {
      initial = std::string();
    } else {
      initial = base64_decode(*a.initial);
      if (!initial) co_return bad("[CLIENTBUG] Invalid base64 in the initial response");
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
  co_return co_await finish_login(s, outcome);
}

}  // namespace roost::imap::commands

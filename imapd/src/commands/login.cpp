// LOGIN (RFC 9051 §6.2.3), and what every successful login does next.
#include "commands.hpp"
#include "roost/core/session_auth.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> finish_login(ImapSession& s, const AuthOutcome& outcome) {
  switch (outcome.kind) {
    case AuthOutcome::Kind::success: break;
    case AuthOutcome::Kind::failure: co_return no("[AUTHENTICATIONFAILED] Authentication failed");
    case AuthOutcome::Kind::cancelled: co_return bad("Authentication cancelled");
    case AuthOutcome::Kind::malformed: co_return bad("[CLIENTBUG] Invalid authentication data");
    case AuthOutcome::Kind::no_mechanism: co_return no("[CANNOT] Mechanism not available");
    case AuthOutcome::Kind::too_many: co_return no("[UNAVAILABLE] Too many logins in progress, try again later");
    case AuthOutcome::Kind::temporary: co_return no("[UNAVAILABLE] Temporary failure, try again later");
    case AuthOutcome::Kind::lost:
      s.lost = true;
      co_return Reply{.sent = true};
  }
  storage::Result<std::unique_ptr<storage::User>> mail;
  auto work = [&]() { mail = s.store.open_user(s.net.user); };
  co_await s.blocking(work);
  if (!mail) {
    Reply reply = storage_error(s, mail.error());
    s.net.set_user("");
    co_return reply;
  }
  s.mail = std::move(*mail);
  s.state = State::authenticated;
  s.net.set_state("authenticated");
  std::string caps = co_await capabilities(s);
  co_return ok("[CAPABILITY " + caps + "] Logged in");
}

asio::awaitable<Reply> login(ImapSession& s, const Request& r) {
  const auto& l = std::get<Login>(r.command);
  if (!s.net.plaintext_allowed()) co_return no("[PRIVACYREQUIRED] LOGIN needs TLS; use STARTTLS or port 993");
  auto outcome = co_await authenticate_password(s.net, l.user, l.password);
  co_return co_await finish_login(s, outcome);
}

}  // namespace roost::imap::commands

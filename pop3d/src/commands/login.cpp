// What every successful authentication does next (RFC 1939 §4): open the
// maildrop, take the lock, take the snapshot the session works on.
#include <ctime>

#include "commands.hpp"
#include "roost/core/log.hpp"

namespace roost::pop3::commands {

namespace {

std::string refusal(const AuthOutcome& outcome) {
  switch (outcome.kind) {
    case AuthOutcome::Kind::failure: return "-ERR [AUTH] Authentication failed\r\n";
    case AuthOutcome::Kind::cancelled: return "-ERR Authentication cancelled\r\n";
    case AuthOutcome::Kind::malformed: return "-ERR Invalid authentication data\r\n";
    case AuthOutcome::Kind::no_mechanism: return "-ERR Unsupported authentication mechanism\r\n";
    case AuthOutcome::Kind::too_many: return "-ERR [SYS/TEMP] Too many logins in progress, try again later\r\n";
    case AuthOutcome::Kind::temporary: return "-ERR [SYS/TEMP] Temporary failure, try again later\r\n";
    case AuthOutcome::Kind::success:
    case AuthOutcome::Kind::lost: break;
  }
  return {};
}

}  // namespace

asio::awaitable<void> finish_login(Pop3Session& s, const AuthOutcome& outcome) {
  if (outcome.kind == AuthOutcome::Kind::lost) {
    s.lost = true;
    co_return;
  }
  if (outcome.kind != AuthOutcome::Kind::success) {
    std::string response = refusal(outcome);
    co_await s.send(response);
    co_return;
  }
  const auto& pop3 = s.config().pop3;
  enum class Refused { none, in_use, too_soon } refused = Refused::none;
  std::optional<storage::Error> failed;
  std::int64_t wait = 0;
  auto work = [&]() {
    auto mail = s.store.open_user(s.net.user);
    if (!mail) {
      failed = mail.error();
      return;
    }
    auto lock = (*mail)->lock_maildrop(pop3.exclusive_maildrop);
    if (!lock) {
      failed = lock.error();
      return;
    }
    if (!*lock) {
      refused = Refused::in_use;
      return;
    }
    auto delay = std::chrono::duration_cast<std::chrono::seconds>(pop3.login_delay).count();
    std::int64_t since = ::time(nullptr) - (*lock)->previous_login();
    if (delay > 0 && (*lock)->previous_login() > 0 && since < delay) {
      refused = Refused::too_soon;
      wait = delay - since;
      return;
    }
    auto inbox = (*mail)->open("INBOX", false, false);
    if (!inbox) {
      failed = inbox.error();
      return;
    }
    auto listing = (*inbox)->maildrop(s.config().pop3.uidl_format.uses_file_name());
    if (!listing) {
      failed = listing.error();
      return;
    }
    (*lock)->record_login();
    s.set_messages(std::move(*listing));
    s.mail = std::move(*mail);
    s.inbox = std::move(*inbox);
    s.lock = std::move(**lock);
  };
  co_await s.blocking(work);
  if (!s.inbox) {
    std::string response = failed ? storage_error(s, *failed)
                           : refused == Refused::in_use
                               ? std::string("-ERR [IN-USE] Maildrop is in use by another session\r\n")
                               : "-ERR [LOGIN-DELAY] Logged in too recently; try again in " + std::to_string(wait) +
                                     " seconds\r\n";
    log::info(s.net.log_context(), "maildrop_refused",
              {{"reason", failed ? "storage" : refused == Refused::in_use ? "in_use" : "login_delay"}});
    s.net.set_user("");
    co_await s.send(response);
    co_return;
  }
  s.state = State::transaction;
  s.net.set_state("transaction");
  std::uint64_t octets = 0;
  for (const auto& m : s.messages) octets += m.size;
  std::string response = "+OK Logged in; " + std::to_string(s.messages.size()) + " messages (" +
                         std::to_string(octets) + " octets)\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

// A small line protocol that exercises the runtime the way the real services
// do (greeting, STARTTLS, SASL, LOGIN, deadlines, shutdown goodbye), so that
// core can be tested over the wire before and beside IMAP, POP3 and LMTP.
// It is linked only into roost-testd, never into roostd.
//
//   CAPA                 +OK, then STARTTLS (if offered), AUTH <mechs>, "."
//   STARTTLS | STLS      +OK begin TLS, then the handshake (STLS lets
//                        openssl s_client -starttls pop3 drive it)
//   AUTH MECH [IR]       SASL; "=" is an empty initial response; challenges
//                        are "+ BASE64", the client answers a line ("*" cancels)
//   LOGIN USER PASS      cleartext login, only where allowed
//   WHOAMI               +OK USER (or "-")
//   PEER                 +OK the client address as the server sees it
//   ECHO TEXT            +OK TEXT
//   SLEEP MS             waits, as a long command would, then +OK slept
//   FAULT POINT ERRNO N  arms a storage failure point (fault_injection.hpp)
//                        for the next N checks: POINT is write_message,
//                        rename_message, flush, uidlist_append,
//                        index_commit or index_commit_after_answer;
//                        ERRNO is ENOSPC, EIO or EDQUOT
//   QUIT                 +OK bye
#include "test_service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <map>
#include <sstream>

#include "roost/core/auth.hpp"
#include "roost/core/session_auth.hpp"
#include "roost/core/starttls.hpp"
#include "roost/storage/fault_injection.hpp"

namespace roost::testing {
namespace {

class TestService final : public Service {
 public:
  std::string_view name() const override { return "test"; }
  std::string refusal(Refusal why) const override {
    switch (why) {
      case Refusal::too_many_connections: return "-ERR [SYS/TEMP] too many connections\r\n";
      case Refusal::too_many_from_address:
        return "-ERR [SYS/TEMP] too many connections from your address\r\n";
      case Refusal::shutting_down: return "-ERR [SYS/TEMP] server shutting down\r\n";
    }
    return "-ERR\r\n";
  }

  // Parked between commands (Session::park), like the real services.
  struct State final : SessionState {};

  asio::awaitable<void> serve(Session& session) override {
    auto& conn = *session.connection;
    const auto& limits = session.config->limits;
    if (!session.state) {
      session.state = std::make_unique<State>();
      conn.send("+OK roost-test ready\r\n");
    }
    std::string line;
    for (;;) {
      if (!co_await conn.flush(limits.write_timeout)) co_return;
      const auto deadline = session.wait_deadline(session.user.empty() ? limits.login_timeout : limits.idle_timeout);
      if (session.park(deadline)) co_return;
      auto status = co_await conn.read_line(
          line, limits.max_line_length,
          std::chrono::duration_cast<Connection::Duration>(deadline - std::chrono::steady_clock::now()));
      session.command_received();
      switch (status) {
        case ReadStatus::ok: break;
        case ReadStatus::too_long: conn.send("-ERR line too long\r\n"); continue;
        case ReadStatus::timeout: conn.send("-ERR idle timeout\r\n"); co_return;
        case ReadStatus::stopped:
          conn.send(conn.stop_reason() == StopReason::kicked
                        ? "-ERR disconnected by the administrator\r\n"
                        : "-ERR server shutting down\r\n");
          co_return;
        default: co_return;
      }
      session.server.metrics().add("roost_commands_total", {{"service", "test"}});
      auto space = line.find(' ');
      std::string verb = line.substr(0, space);
      std::string args = space == std::string::npos ? "" : line.substr(space + 1);
      for (auto& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

      if (verb == "QUIT") {
        conn.send("+OK bye\r\n");
        co_return;
      } else if (verb == "CAPA") {
        conn.send("+OK\r\n");
        if (tls_upgrade_offered(session)) {
          conn.send("STARTTLS\r\n");
        }
        std::string mechs;
        for (const auto& m : co_await offered_mechanisms(session)) mechs += " " + m;
        conn.send("AUTH" + mechs + "\r\n.\r\n");
      } else if (verb == "STARTTLS" || verb == "STLS") {
        if (!tls_upgrade_offered(session)) {
          conn.send("-ERR STARTTLS not available\r\n");
          continue;
        }
        conn.send("+OK begin TLS\r\n");
        const bool upgraded = co_await upgrade_to_tls(session);
        if (!upgraded) co_return;
      } else if (verb == "AUTH") {
        auto sp = args.find(' ');
        std::string mech = args.substr(0, sp);
        std::optional<std::string> initial;
        if (sp != std::string::npos) {
          auto ir = args.substr(sp + 1);
          if (ir == "=") {
            initial = std::string();
          } else {
            initial = base64_decode(ir);
            if (!initial) {
              conn.send("-ERR invalid base64\r\n");
              continue;
            }
          }
        }
        auto outcome = co_await authenticate_sasl(
            session, mech, initial,
            [&](std::string_view challenge) -> asio::awaitable<ClientAnswer> {
              conn.send("+ " + base64_encode(challenge) + "\r\n");
              if (!co_await conn.flush(limits.write_timeout)) co_return ClientAnswer{};
              std::string answer;
              auto s = co_await conn.read_line(answer, limits.max_line_length,
                                               session.config->auth.timeout);
              if (s != ReadStatus::ok) co_return ClientAnswer{};
              if (answer == "*") co_return ClientAnswer{ClientAnswer::Kind::cancelled, {}};
              auto decoded = base64_decode(answer);
              if (!decoded) co_return ClientAnswer{ClientAnswer::Kind::malformed, {}};
              co_return ClientAnswer{ClientAnswer::Kind::data, std::move(*decoded)};
            });
        if (!reply(conn, session, outcome)) co_return;
      } else if (verb == "LOGIN") {
        auto sp = args.find(' ');
        if (sp == std::string::npos) {
          conn.send("-ERR usage: LOGIN USER PASSWORD\r\n");
          continue;
        }
        if (!session.plaintext_allowed()) {
          conn.send("-ERR [PRIVACYREQUIRED] cleartext login needs TLS\r\n");
          continue;
        }
        auto outcome = co_await authenticate_password(session, args.substr(0, sp),
                                                      args.substr(sp + 1));
        if (!reply(conn, session, outcome)) co_return;
      } else if (verb == "WHOAMI") {
        conn.send("+OK " + (session.user.empty() ? std::string("-") : session.user) + "\r\n");
      } else if (verb == "PEER") {
        conn.send("+OK " + conn.peer().to_string() + "\r\n");
      } else if (verb == "ECHO") {
        if (!conn.send("+OK " + args + "\r\n")) {
          // The client is not reading its replies: stop before memory grows.
          log::warning(session.log_context(), "output_overflow");
          co_return;
        }
      } else if (verb == "SLEEP") {
        unsigned ms = 0;
        std::from_chars(args.data(), args.data() + args.size(), ms);
        session.set_state("busy");
        asio::steady_timer timer(conn.executor());
        timer.expires_after(std::chrono::milliseconds(ms));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        session.set_state("idle");
        conn.send("+OK slept\r\n");
      } else if (verb == "FAULT") {
        std::istringstream words(args);
        std::string point, error;
        int times = 0;
        words >> point >> error >> times;
        static const std::map<std::string, storage::FaultPoint> points{
            {"write_message", storage::FaultPoint::write_message},
            {"rename_message", storage::FaultPoint::rename_message},
            {"flush", storage::FaultPoint::flush},
            {"uidlist_append", storage::FaultPoint::uidlist_append},
            {"index_commit", storage::FaultPoint::index_commit},
            {"index_commit_after_answer", storage::FaultPoint::index_commit_after_answer}};
        static const std::map<std::string, std::errc> errors{{"ENOSPC", std::errc::no_space_on_device},
                                                             {"EIO", std::errc::io_error},
                                                             {"EDQUOT", std::errc::no_space_on_device}};
        auto p = points.find(point);
        auto e = errors.find(error);
        if (p == points.end() || e == errors.end() || times <= 0) {
          conn.send("-ERR FAULT POINT ERRNO COUNT\r\n");
        } else {
          storage::inject_fault(p->second, e->second, times);
          conn.send("+OK armed\r\n");
        }
      } else {
        conn.send("-ERR unknown command\r\n");
      }
    }
  }

 private:
  static bool reply(Connection& conn, Session& session, const AuthOutcome& outcome) {
    switch (outcome.kind) {
      case AuthOutcome::Kind::success:
        conn.send("+OK logged in as " + session.user + "\r\n");
        return true;
      case AuthOutcome::Kind::failure:
        conn.send("-ERR [AUTH] authentication failed\r\n");
        return true;
      case AuthOutcome::Kind::cancelled:
        conn.send("-ERR authentication cancelled\r\n");
        return true;
      case AuthOutcome::Kind::malformed:
        conn.send("-ERR [AUTH] authentication failed\r\n");
        return true;
      case AuthOutcome::Kind::no_mechanism:
        conn.send("-ERR mechanism not available\r\n");
        return true;
      case AuthOutcome::Kind::too_many:
        conn.send("-ERR [SYS/TEMP] too many authentications in progress\r\n");
        return true;
      case AuthOutcome::Kind::temporary:
        conn.send("-ERR [SYS/TEMP] try again later\r\n");
        return true;
      case AuthOutcome::Kind::lost:
        return false;
    }
    return false;
  }
};

}  // namespace

ServiceFactory test_service_factory() {
  return {"test", [](Server&) { return std::make_unique<TestService>(); }};
}

}  // namespace roost::testing

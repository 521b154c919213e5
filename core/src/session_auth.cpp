#include "roost/core/session_auth.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "roost/core/ascii.hpp"
#include "roost/core/auth.hpp"
#include "roost/core/base64.hpp"

namespace roost {
namespace {

SaslSecurity security_of(Session& session) {
  auto& conn = *session.connection;
  return SaslSecurity{.tls = conn.tls_active(),
                      .tls_bits = conn.tls_cipher_bits(),
                      .plaintext_allowed = session.plaintext_allowed(),
                      .channel_binding = conn.tls_exporter()};
}

// The work stays in the caller's frame, which is suspended until the pool is
// done with it; only a pointer crosses. (g++ 12 miscompiles class-type
// coroutine parameters that hold short strings: it relocates them bitwise.)
template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_work(F* work) {
  co_return (*work)();
}

// Runs blocking authentication work on the auth pool and resumes on the
// session's own thread.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> on_auth_pool(Session& session, F& work) {
  co_return co_await asio::co_spawn(session.server.runtime().auth(), run_work(&work),
                                    asio::use_awaitable);
}

asio::awaitable<void> pause(Session& session, std::chrono::milliseconds delay) {
  asio::steady_timer timer(session.connection->executor());
  timer.expires_after(delay);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Every login refused for max_concurrent_per_ip, so that an operator sees
// why a webmail host's users could not log in.
void log_too_many(Session& session, std::string_view mechanism) {
  log::warning(session.log_context(), "login_refused",
               {{"mechanism", mechanism},
                {"reason", "too many logins in progress from this address ([auth] max_concurrent_per_ip)"}});
}

struct AttemptSlot {
  Authenticator& auth;
  std::optional<IpAddress> address;
  bool held;
  ~AttemptSlot() {
    if (held) auth.end_attempt(address);
  }
};

asio::awaitable<AuthOutcome> finish(Session& session, const SaslStep& step,
                                    std::string_view mechanism, std::string_view claimed_user) {
  auto& auth = session.server.auth();
  const auto& address = session.connection->peer().ip;
  auto count = [&](std::string_view result) {
    session.server.metrics().add(
        "roost_authentications_total",
        {{"service", std::string(session.listener.service)}, {"mechanism", std::string(mechanism)},
         {"result", std::string(result)}});
  };
  std::string refused;  // why a user whose credentials are right is not served here
  if (step.kind == SaslStep::Kind::success) {
    auto admit = [&] { return auth.credentials().admit(step.user); };
    auto admitted = co_await on_auth_pool(session, admit);
    if (!admitted) refused = admitted.error();
  }
  if (!refused.empty()) {
    count("elsewhere");
    log::warning(session.log_context(), "login_refused",
                 {{"mechanism", mechanism}, {"attempted_user", step.user}, {"detail", refused}});
    co_return AuthOutcome{AuthOutcome::Kind::temporary};
  }
  switch (step.kind) {
    case SaslStep::Kind::success:
      auth.record_success(address, step.user);
      session.set_user(step.user);
      session.set_state("authenticated");
      count("ok");
      log::info(session.log_context(), "login", {{"mechanism", mechanism}});
      co_return AuthOutcome{AuthOutcome::Kind::success};
    case SaslStep::Kind::error:
      count("error");
      log::error(session.log_context(), "login_error",
                 {{"mechanism", mechanism}, {"detail", step.detail}});
      co_return AuthOutcome{AuthOutcome::Kind::temporary};
    default: {
      // Wait before answering, longer with each recent failure from this
      // address or for this user.
      auth.record_failure(address, claimed_user);
      auto delay = auth.failure_delay(address, claimed_user);
      count("failed");
      // For the operator (never the client): whether the user exists. The
      // mechanisms' own words mislead (Cyrus PLAIN says "user not found" for
      // a wrong password).
      std::string detail = step.detail;
      if (step.kind == SaslStep::Kind::failure) {
        auto exists = [&] {
          auto canonical = canonical_user_name(claimed_user);
          if (!canonical) return false;
          auto record = auth.credentials().find(*canonical);
          return record && record->has_value();
        };
        detail = co_await on_auth_pool(session, exists) ? "wrong password" : "no such user";
      }
      log::info(session.log_context(), "login_failed",
                {{"mechanism", mechanism}, {"attempted_user", claimed_user},
                 {"detail", detail}, {"delay_ms", delay.count()}});
      co_await pause(session, delay);
      co_return AuthOutcome{step.kind == SaslStep::Kind::protocol ? AuthOutcome::Kind::malformed
                                                                  : AuthOutcome::Kind::failure};
    }
  }
}

// The user a SASL client claims, for throttling and the log, before the
// mechanism has verified anything. Best effort; never trusted. Only ever
// the client's first message: a later one may be a password (LOGIN's
// second answer).
std::string claimed_user(std::string_view mechanism, std::string_view first_message) {
  if (mechanism == "LOGIN") return std::string(first_message.substr(0, 255));
  if (mechanism == "PLAIN") {
    auto nul1 = first_message.find('\0');
    if (nul1 == std::string_view::npos) return {};
    auto rest = first_message.substr(nul1 + 1);
    return std::string(rest.substr(0, rest.find('\0')));
  }
  if (mechanism.starts_with("SCRAM-")) {
    auto n = first_message.find("n=");
    if (n == std::string_view::npos) return {};
    auto rest = first_message.substr(n + 2);
    return std::string(rest.substr(0, rest.find(',')));
  }
  return {};
}

}  // namespace

ChallengeExchange base64_line_exchange(Session& session) {
  return [&session](std::string_view challenge) -> asio::awaitable<ClientAnswer> {
    auto& conn = *session.connection;
    const auto& config = *session.config;
    std::string line = "+ " + base64_encode(challenge) + "\r\n";
    conn.send(line);
    if (!co_await conn.flush(config.limits.write_timeout)) co_return ClientAnswer{};
    std::string answer;
    if (co_await conn.read_line(answer, config.limits.max_line_length, config.auth.timeout) != ReadStatus::ok)
      co_return ClientAnswer{};
    if (answer == "*") co_return ClientAnswer{ClientAnswer::Kind::cancelled, {}};
    auto decoded = base64_decode(answer);
    if (!decoded) co_return ClientAnswer{ClientAnswer::Kind::malformed, {}};
    co_return ClientAnswer{ClientAnswer::Kind::data, std::move(*decoded)};
  };
}

std::optional<std::string> decode_initial_response(std::string_view text) {
  if (text == "=") return std::string();
  return base64_decode(text);
}

std::string sasl_service_name(std::string_view service) {
  if (service == "pop3") return "pop";
  return std::string(service);
}

asio::awaitable<std::vector<std::string>> offered_mechanisms(Session& session) {
  auto security = security_of(session);
  auto service = sasl_service_name(session.listener.service);
  auto list = [&]() -> std::vector<std::string> {
    auto exchange = session.server.auth().begin(service, security);
    if (!exchange) return {};
    return (*exchange)->mechanisms();
  };
  co_return co_await on_auth_pool(session, list);
}

asio::awaitable<AuthOutcome> authenticate_sasl(Session& session, std::string_view mechanism_in,
                                               std::optional<std::string> initial,
                                               const ChallengeExchange& exchange) {
  auto& auth = session.server.auth();
  const std::string mechanism = ascii_uppercase(mechanism_in);

  auto security = security_of(session);
  auto service = sasl_service_name(session.listener.service);
  auto begin = [&] { return auth.begin(service, security); };
  auto created = co_await on_auth_pool(session, begin);
  if (!created) {
    log::error(session.log_context(), "sasl_error", {{"error", created.error()}});
    co_return AuthOutcome{AuthOutcome::Kind::temporary};
  }
  std::shared_ptr<SaslExchange> sasl = std::move(*created);
  if (!sasl->offers(mechanism)) co_return AuthOutcome{AuthOutcome::Kind::no_mechanism};

  const auto& address = session.connection->peer().ip;
  if (!auth.try_begin_attempt(address)) {
    log_too_many(session, mechanism);
    co_return AuthOutcome{AuthOutcome::Kind::too_many};
  }
  AttemptSlot slot{auth, address, true};
  session.set_state("authenticating");

  auto deadline = std::chrono::steady_clock::now() + session.config->auth.timeout;
  std::string user_hint;
  SaslStep step;
  // The first message of the client names the user: the initial response
  // when there is one (an empty one names nobody), else the first answer.
  bool first_message = true;
  if (initial && !initial->empty()) {
    user_hint = claimed_user(mechanism, *initial);
    first_message = false;
  }
  auto start = [&] {
    return sasl->start(mechanism, initial ? std::optional<std::string_view>(*initial)
                                          : std::nullopt);
  };
  step = co_await on_auth_pool(session, start);
  while (step.kind == SaslStep::Kind::challenge) {
    if (std::chrono::steady_clock::now() > deadline) {
      step.kind = SaslStep::Kind::failure;
      step.detail = "exchange took longer than [auth] timeout";
      break;
    }
    auto answer = co_await exchange(step.data);
    if (answer.kind == ClientAnswer::Kind::lost) co_return AuthOutcome{AuthOutcome::Kind::lost};
    if (answer.kind == ClientAnswer::Kind::cancelled) {
      log::info(session.log_context(), "login_cancelled", {{"mechanism", mechanism}});
      co_return AuthOutcome{AuthOutcome::Kind::cancelled};
    }
    if (answer.kind == ClientAnswer::Kind::malformed) {
      step.kind = SaslStep::Kind::protocol;
      step.detail = "client answer is not valid base64";
      break;
    }
    if (std::exchange(first_message, false)) user_hint = claimed_user(mechanism, answer.data);
    auto next = [&] { return sasl->step(answer.data); };
    step = co_await on_auth_pool(session, next);
  }
  co_return co_await finish(session, step, mechanism, user_hint);
}

asio::awaitable<AuthOutcome> authenticate_password(Session& session, std::string_view user,
                                                   std::string_view password) {
  auto& auth = session.server.auth();
  const auto& address = session.connection->peer().ip;
  if (!auth.try_begin_attempt(address)) {
    log_too_many(session, "LOGIN-COMMAND");
    co_return AuthOutcome{AuthOutcome::Kind::too_many};
  }
  AttemptSlot slot{auth, address, true};
  auto check = [&] { return auth.check_password(user, password); };
  auto step = co_await on_auth_pool(session, check);
  co_return co_await finish(session, step, "LOGIN-COMMAND", user);
}

}  // namespace roost

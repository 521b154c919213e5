// The POP3 connection loop: read a line, parse it, check it against the
// table of commands and the session's state, run its handler. Replies to
// pipelined commands (RFC 2449 §6.6) are flushed when the input runs dry.
#include "roost/pop3d/pop3_service.hpp"

#include <array>
#include <chrono>
#include <optional>

#include "commands/commands.hpp"
#include "roost/core/log.hpp"
#include "roost/storage/store_config.hpp"
#include "session.hpp"

namespace roost::pop3 {
namespace {

constexpr unsigned kAuthorization = static_cast<unsigned>(State::authorization);
constexpr unsigned kTransaction = static_cast<unsigned>(State::transaction);
constexpr unsigned kAny = kAuthorization | kTransaction;

struct Row {
  unsigned states = 0;
  Handler handler = nullptr;
};

const std::array<Row, std::variant_size_v<Command>>& table() {
  static const auto rows = [] {
    std::array<Row, std::variant_size_v<Command>> t{};
    auto set = [&]<class T>(std::in_place_type_t<T>, unsigned states, Handler handler) {
      t[Command(std::in_place_type<T>).index()] = Row{states, handler};
    };
    using namespace commands;
    set(std::in_place_type<User>, kAuthorization, user);
    set(std::in_place_type<Pass>, kAuthorization, pass);
    set(std::in_place_type<Apop>, kAuthorization, apop);
    set(std::in_place_type<Auth>, kAuthorization, auth);
    set(std::in_place_type<Stls>, kAuthorization, stls);
    set(std::in_place_type<Utf8>, kAuthorization, utf8);
    set(std::in_place_type<Lang>, kAny, lang);
    set(std::in_place_type<Capa>, kAny, capa);
    set(std::in_place_type<Quit>, kAny, quit);
    set(std::in_place_type<Noop>, kTransaction, noop);
    set(std::in_place_type<Stat>, kTransaction, stat);
    set(std::in_place_type<List>, kTransaction, list);
    set(std::in_place_type<Uidl>, kTransaction, uidl);
    set(std::in_place_type<Retr>, kTransaction, retr);
    set(std::in_place_type<Top>, kTransaction, top);
    set(std::in_place_type<Dele>, kTransaction, dele);
    set(std::in_place_type<Rset>, kTransaction, rset);
    for (const auto& row : t)
      if (row.handler == nullptr) std::abort();  // a command without a row: a bug caught at startup
    return t;
  }();
  return rows;
}

class Pop3Service final : public Service {
 public:
  explicit Pop3Service(Server& server) : store_(storage::shared_store(*server.config(), server.metrics())) {}

  std::string_view name() const override { return "pop3"; }

  std::string refusal(Refusal why) const override {
    switch (why) {
      case Refusal::too_many_connections: return "-ERR [SYS/TEMP] Too many connections\r\n";
      case Refusal::too_many_from_address: return "-ERR [SYS/TEMP] Too many connections from your address\r\n";
      case Refusal::shutting_down: return "-ERR [SYS/TEMP] Server shutting down\r\n";
    }
    return "-ERR [SYS/TEMP] Unavailable\r\n";
  }

  asio::awaitable<void> serve(Session& session) override;

 private:
  std::shared_ptr<storage::Store> store_;
};

// What a POP3 session keeps while it is parked between commands.
struct Pop3State final : SessionState {
  Pop3State(Session& session, storage::Store& store) : pop3{session, store} {}
  Pop3Session pop3;
  unsigned bad_in_row = 0;
};

asio::awaitable<void> Pop3Service::serve(Session& session) {
  if (!session.state) {
    session.state = std::make_unique<Pop3State>(session, *store_);
    co_await static_cast<Pop3State&>(*session.state).pop3.send("+OK Roost POP3 ready\r\n");
  }
  auto& state = static_cast<Pop3State&>(*session.state);
  Pop3Session& s = state.pop3;
  auto& conn = session.connection;
  const Config& config = *session.config;
  const auto& limits = config.limits;
  while (!s.lost && s.state != State::done) {
    if (conn->buffered_input() == 0 && !co_await conn->flush(limits.write_timeout)) break;
    const auto deadline = s.state == State::authorization ? session.login_deadline()
                                                          : session.wait_deadline(limits.idle_timeout);
    if (session.park(deadline)) co_return;
    std::string line;
    auto status = co_await conn->read_line(
        line, limits.max_line_length,
        std::chrono::duration_cast<Connection::Duration>(deadline - std::chrono::steady_clock::now()));
    session.command_received();
    if (status != ReadStatus::ok) {
      // An expired timer ends the session without a word and without UPDATE (RFC 1939 §3).
      if (status == ReadStatus::too_long) co_await s.send("-ERR Line too long\r\n");
      else if (status == ReadStatus::stopped)
        co_await s.send(conn->stop_reason() == StopReason::kicked ? "-ERR Disconnected by the administrator\r\n"
                                                                   : "-ERR [SYS/TEMP] Server shutting down\r\n");
      break;
    }
    session.server.metrics().add("roost_commands_total", {{"service", "pop3"}});
    auto parsed = parse_command(line);
    if (auto* error = std::get_if<SyntaxError>(&parsed)) {
      std::string response = "-ERR " + error->text + "\r\n";
      co_await s.send(response);
      if (++state.bad_in_row >= config.pop3.max_bad_commands) {
        co_await s.send("-ERR Too many invalid commands\r\n");
        break;
      }
      continue;
    }
    state.bad_in_row = 0;
    const Command& command = std::get<Command>(parsed);
    const Row& row = table()[command.index()];
    if ((row.states & static_cast<unsigned>(s.state)) == 0) {
      co_await s.send(s.state == State::authorization ? "-ERR Log in first\r\n" : "-ERR Not allowed after login\r\n");
      continue;
    }
    co_await row.handler(s, command);
  }
  if (!s.lost) co_await conn->flush(limits.write_timeout);
}

}  // namespace

ServiceFactory service_factory() {
  return {"pop3", [](Server& server) { return std::make_unique<Pop3Service>(server); }};
}

}  // namespace roost::pop3

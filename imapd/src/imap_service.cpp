// The IMAP connection loop: read a command (lines and literals through
// CommandReader), parse it, check it against the table of commands and the
// session's state, run its handler, report the selected folder's news, and
// send the tagged reply.
#include "roost/imapd/imap_service.hpp"

#include <array>

#include "commands/commands.hpp"
#include "idle.hpp"
#include "notify.hpp"
#include "roost/core/log.hpp"
#include "roost/imapd/syntax.hpp"
#include "roost/storage/store_config.hpp"
#include "service.hpp"
#include "session.hpp"

namespace roost::imap {
namespace {

constexpr unsigned kAny = 1 | 2 | 4;
constexpr unsigned kNotAuthenticated = static_cast<unsigned>(State::not_authenticated);
constexpr unsigned kAuthenticated = static_cast<unsigned>(State::authenticated) | static_cast<unsigned>(State::selected);
constexpr unsigned kSelected = static_cast<unsigned>(State::selected);
// ENABLE only before a mailbox is selected (RFC 5161 §3.1).
constexpr unsigned kAuthenticatedOnly = static_cast<unsigned>(State::authenticated);

struct Row {
  unsigned states = 0;
  Handler handler = nullptr;
  // Works with sequence numbers unless given as a UID command: EXPUNGE
  // responses must wait (RFC 9051 §7.5.1).
  bool sequence_numbers = false;
};

const std::array<Row, std::variant_size_v<Command>>& table() {
  static const auto rows = [] {
    std::array<Row, std::variant_size_v<Command>> t{};
    auto set = [&]<class T>(std::in_place_type_t<T>, unsigned states, Handler handler, bool sequence_numbers = false) {
      t[Command(std::in_place_type<T>).index()] = Row{states, handler, sequence_numbers};
    };
    using namespace commands;
    set(std::in_place_type<Capability>, kAny, capability);
    set(std::in_place_type<Noop>, kAny, noop);
    set(std::in_place_type<Logout>, kAny, logout);
    set(std::in_place_type<StartTls>, kNotAuthenticated, starttls);
    set(std::in_place_type<Authenticate>, kNotAuthenticated, authenticate);
    set(std::in_place_type<Login>, kNotAuthenticated, login);
    set(std::in_place_type<Enable>, kAuthenticatedOnly, enable);
    set(std::in_place_type<Id>, kAny, id);
    set(std::in_place_type<Select>, kAuthenticated, select);
    set(std::in_place_type<Create>, kAuthenticated, create);
    set(std::in_place_type<Delete>, kAuthenticated, remove);
    set(std::in_place_type<Rename>, kAuthenticated, rename);
    set(std::in_place_type<Subscribe>, kAuthenticated, subscribe);
    set(std::in_place_type<List>, kAuthenticated, list);
    set(std::in_place_type<Namespace>, kAuthenticated, namespace_);
    set(std::in_place_type<Status>, kAuthenticated, status);
    set(std::in_place_type<Append>, kAuthenticated, append);
    set(std::in_place_type<Check>, kSelected, noop);
    set(std::in_place_type<Close>, kSelected, close);
    set(std::in_place_type<Unselect>, kSelected, close);
    set(std::in_place_type<Expunge>, kSelected, expunge);
    set(std::in_place_type<Search>, kSelected, search, true);
    set(std::in_place_type<Fetch>, kSelected, fetch, true);
    set(std::in_place_type<Store>, kSelected, store, true);
    set(std::in_place_type<Copy>, kSelected, copy, true);
    set(std::in_place_type<Idle>, kAuthenticated, idle);
    set(std::in_place_type<GetQuota>, kAuthenticated, quota);
    set(std::in_place_type<GetQuotaRoot>, kAuthenticated, quota);
    set(std::in_place_type<SetQuota>, kAuthenticated, quota);
    set(std::in_place_type<Unauthenticate>, kAuthenticated, unauthenticate);
    set(std::in_place_type<Sort>, kSelected, sort, true);
    set(std::in_place_type<Thread>, kSelected, thread, true);
    set(std::in_place_type<Compress>, kAuthenticated, compress);
    set(std::in_place_type<Replace>, kSelected, replace, true);
    set(std::in_place_type<GetMetadata>, kAuthenticated, getmetadata);
    set(std::in_place_type<SetMetadata>, kAuthenticated, setmetadata);
    set(std::in_place_type<CancelUpdate>, kSelected, cancelupdate);
    set(std::in_place_type<MultiSearch>, kAuthenticated, multisearch);
    set(std::in_place_type<Notify>, kAuthenticated, notify);
    for (const auto& row : t)
      if (row.handler == nullptr) std::abort();  // a command without a row: a bug caught at startup
    return t;
  }();
  return rows;
}

// Before login only LOGIN, AUTHENTICATE, ID and the like run: their
// literals are a few bytes (DESIGN invariant 8: nothing big is read, let
// alone kept, for a client that has not logged in).
constexpr std::size_t kMaxLiteralBeforeLogin = 8 * 1024;
constexpr std::size_t kMaxCommandBeforeLogin = 16 * 1024;

SyntaxLimits syntax_limits(const Config& config, State state) {
  SyntaxLimits limits;
  limits.literal_minus = config.imap.literal_minus;
  if (state == State::not_authenticated) {
    limits.max_literal = kMaxLiteralBeforeLogin;
    limits.max_append_literal = kMaxLiteralBeforeLogin;
    limits.max_append_total = kMaxLiteralBeforeLogin;
    limits.max_command = kMaxCommandBeforeLogin;
    return limits;
  }
  limits.max_append_literal = config.imap.max_message_size;
  limits.max_append_total = std::max<std::uint64_t>(config.imap.max_message_size, 4 * config.imap.max_message_size);
  limits.max_command = std::max<std::size_t>(config.limits.max_line_length * 4, 64 * 1024);
  return limits;
}

// Why a command cannot run in `state`, or nullopt when it can.
std::optional<std::string> state_refusal(const Row& row, State state) {
  if ((row.states & static_cast<unsigned>(state)) != 0) return std::nullopt;
  if (state == State::not_authenticated) return "NO [CLIENTBUG] Log in first";
  if (row.states == kSelected) return "BAD [CLIENTBUG] No mailbox selected";
  return "BAD [CLIENTBUG] Not allowed now";
}

// Refuses a command by its name before its arguments are read or parsed.
CommandReader::Gate state_gate(State state) {
  return [state](std::string_view name) -> std::optional<std::string> {
    auto kind = command_kind(name);
    if (!kind) return std::nullopt;  // parsed, and answered BAD "Unknown command"
    return state_refusal(table()[*kind], state);
  };
}

}  // namespace

ImapService::ImapService(Server& server) : store_(storage::shared_store(*server.config(), server.metrics())) {}

std::string ImapService::refusal(Refusal why) const {
  switch (why) {
    case Refusal::too_many_connections: return "* BYE [UNAVAILABLE] Too many connections\r\n";
    case Refusal::too_many_from_address: return "* BYE [UNAVAILABLE] Too many connections from your address\r\n";
    case Refusal::shutting_down: return "* BYE [UNAVAILABLE] Server shutting down\r\n";
  }
  return "* BYE [UNAVAILABLE] Unavailable\r\n";
}

asio::awaitable<void> ImapService::run_command(ImapSession& s, Request& request) {
  const Row& row = table()[request.command.index()];
  s.net.server.metrics().add("roost_commands_total", {{"service", "imap"}});
  if (auto refusal = state_refusal(row, s.state)) {
    // The reader's gate refused this already; checked again so that no
    // handler ever runs in a state its row does not allow.
    const auto space = refusal->find(' ');
    s.tagged(request, refusal->substr(0, space), refusal->substr(space + 1));
    co_return;
  }
  // A UID command may be told of expunges (RFC 9051 §7.5.1): tell them
  // first, so that its UID set names only messages that still exist.
  if (s.state == State::selected && row.sequence_numbers && request.uid) co_await announce(s, true);
  Reply reply = co_await row.handler(s, request);
  if (s.lost) co_return;
  // IDLE reports by itself from now on (idle_report), as NOTIFY allows.
  if (s.state == State::selected && s.view && !s.idle) co_await announce(s, !row.sequence_numbers || request.uid);
  if (s.lost) co_return;  // a BYE ended the session
  if (s.state == State::logout) co_await s.send("* BYE Logging out\r\n");
  if (!reply.sent) s.tagged(request, reply.status, reply.text);
}

namespace {

// What an IMAP session keeps while it is parked between commands.
struct ImapState final : SessionState {
  ImapState(Session& session, storage::Store& store) : imap{session, store} {}
  ImapSession imap;
  // Only while a command is being read: a parked session does not keep it.
  std::unique_ptr<CommandReader> reader;
  bool in_command() const { return reader && reader->in_command(); }
  unsigned bad_in_row = 0;
};

asio::awaitable<void> greet(ImapSession& s) {
  // g++ 12 mishandles string temporaries in co_await expressions: every
  // awaited call here and in commands/ takes named values.
  std::string caps = co_await commands::capabilities(s);
  std::string greeting = "* OK [CAPABILITY " + caps + "] Roost IMAP ready\r\n";
  co_await s.send(greeting);
}

}  // namespace

asio::awaitable<void> ImapService::serve(Session& session) {
  if (!session.state) {
    auto fresh = std::make_unique<ImapState>(session, *store_);
    session.state = std::move(fresh);
    co_await greet(static_cast<ImapState&>(*session.state).imap);
  }
  auto& state = static_cast<ImapState&>(*session.state);
  ImapSession& s = state.imap;
  auto& conn = session.connection;
  const Config& config = *session.config;
  const auto& limits = config.limits;
  for (;;) {
    std::string line;
    if (s.lost || s.state == State::logout) break;
    if (s.idle) {
      co_await idle_report(s);
      if (s.lost) break;
    } else if (s.notify && !state.in_command()) {
      // NOTIFY (RFC 5465): what the watches marked, between commands.
      watch_selected(s);
      if (s.notify->pending()) co_await report_notifications(s, false);
      if (s.lost) break;
    }
    // Pipelining: answer everything already received before waiting.
    if (conn->buffered_input() == 0 && !state.in_command() && !co_await conn->flush(limits.write_timeout)) break;
    const auto deadline = s.idle                                ? idle_deadline(s)
                          : s.state == State::not_authenticated ? session.login_deadline()
                                                                : session.wait_deadline(limits.idle_timeout);
    // Between commands with nothing received: wait with no coroutine frame.
    if (!state.in_command() && session.park(deadline)) co_return;
    ReadStatus status = ReadStatus::timeout;
    if (const auto now = std::chrono::steady_clock::now(); deadline > now)
      status = co_await conn->read_line(line, limits.max_line_length,
                                        std::chrono::duration_cast<Connection::Duration>(deadline - now));
    if (s.idle) {
      session.command_received();
      co_await idle_input(s, status, line);
      continue;
    }
    if (status == ReadStatus::interrupted) continue;  // a watch fired (NOTIFY)
    session.command_received();
    if (status != ReadStatus::ok) {
      if (status == ReadStatus::too_long) co_await s.send("* BYE [TOOBIG] Line too long\r\n");
      else if (status == ReadStatus::timeout) co_await s.send("* BYE Autologout; idle for too long\r\n");
      else if (status == ReadStatus::stopped)
        co_await s.send(conn->stop_reason() == StopReason::kicked ? "* BYE Disconnected by the administrator\r\n"
                                                                   : "* BYE [UNAVAILABLE] Server shutting down\r\n");
      break;
    }
    if (!state.reader) state.reader = std::make_unique<CommandReader>(syntax_limits(config, s.state), state_gate(s.state));
    CommandReader& reader = *state.reader;
    auto next = reader.add_line(line);
    if (next == CommandReader::Next::literal || next == CommandReader::Next::discard) {
      const auto literal = reader.literal();
      if (!reader.response().empty()) co_await s.send(reader.response());
      if (next == CommandReader::Next::literal && literal.synchronizing) {
        co_await s.send("+ Ready for literal data\r\n");
        if (!co_await conn->flush(limits.write_timeout)) break;
      }
      std::string bytes;
      std::uint64_t left = literal.size;
      bool failed = false;
      // One deadline for the whole literal; before login, the login's.
      const auto literal_deadline = s.state == State::not_authenticated
                                        ? session.login_deadline()
                                        : std::chrono::steady_clock::now() + limits.idle_timeout;
      while (left > 0 && !failed) {
        std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 20));
        if (next == CommandReader::Next::discard) bytes.clear();
        const std::size_t target = bytes.size() + piece;
        ReadStatus read = ReadStatus::interrupted;
        // A NOTIFY watch may wake the read: the literal goes on.
        while (read == ReadStatus::interrupted) {
          const auto now = std::chrono::steady_clock::now();
          read = literal_deadline <= now
                     ? ReadStatus::timeout
                     : co_await conn->read_exact(
                           bytes, target - bytes.size(),
                           std::chrono::duration_cast<Connection::Duration>(literal_deadline - now));
        }
        failed = read != ReadStatus::ok;
        left -= piece;
      }
      if (failed) break;
      if (next == CommandReader::Next::literal) reader.add_literal(std::move(bytes));
      continue;  // the command goes on on the next line
    }
    if (next == CommandReader::Next::refused || next == CommandReader::Next::close) {
      co_await s.send(reader.response());
      if (next == CommandReader::Next::close) break;
      // A BAD refusal counts as an invalid command, like a BAD from parsing.
      if (reader.response().find(" BAD ") != std::string::npos &&
          ++state.bad_in_row >= config.imap.max_bad_commands) {
        co_await s.send("* BYE Too many invalid commands\r\n");
        break;
      }
      if (!reader.in_command()) state.reader.reset();
      continue;
    }
    RawCommand raw = reader.take();
    state.reader.reset();
    auto parsed = parse_command(raw);
    if (auto* error = std::get_if<SyntaxError>(&parsed)) {
      std::string response = (error->tag.empty() ? std::string("*") : error->tag) + " BAD " + error->text + "\r\n";
      co_await s.send(response);
      if (++state.bad_in_row >= config.imap.max_bad_commands) {
        co_await s.send("* BYE Too many invalid commands\r\n");
        break;
      }
      continue;
    }
    state.bad_in_row = 0;
    co_await run_command(s, std::get<Request>(parsed));
  }
  if (!s.lost) co_await conn->flush(limits.write_timeout);
}

ServiceFactory service_factory() {
  return {"imap", [](Server& server) { return std::make_unique<ImapService>(server); }};
}

}  // namespace roost::imap

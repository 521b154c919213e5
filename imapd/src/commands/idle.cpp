// IDLE (RFC 2177, RFC 9051 §6.3.13): the selected folder's news as it
// happens. A change anywhere (this process, lmtpd in another, another
// program writing the maildir) bumps what the event loop's inotify watcher
// watches; the watcher interrupts this session's wait, which then reports.
// The command only starts idling; the session loop does the waiting
// (idle.hpp), so that an idling session holds no coroutine frame.
#include "../idle.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include "../notify.hpp"
#include "commands.hpp"

namespace roost::imap {

namespace commands {

asio::awaitable<Reply> idle(ImapSession& s, const Request& request) {
  auto& conn = s.conn();
  co_await s.send("+ idling\r\n");
  bool flushed = false;
  if (!s.lost) flushed = co_await conn.flush(s.config().limits.write_timeout);
  if (!flushed) {
    s.lost = true;
    co_return Reply{.sent = true};
  }
  auto state = std::make_unique<IdleState>();
  state->tag = request.tag;
  state->started = std::chrono::steady_clock::now();
  state->next_keepalive = state->started + s.config().imap.idle_keepalive;
  // With NOTIFY in effect its watches say what to report (RFC 5465 §4),
  // and what SELECTED-DELAYED held back goes out now.
  if (s.notify) {
    if (s.view && s.notify->selected_events != 0) co_await announce(s, true);
  } else if (s.view) {
    auto& context = static_cast<asio::io_context&>(asio::query(conn.executor(), asio::execution::context));
    state->subscription = storage::ChangeWatcher::of(context).subscribe(*s.view, [c = &conn] { c->interrupt(); });
  }
  s.idle = std::move(state);
  co_return Reply{.sent = true};
}

}  // namespace commands

asio::awaitable<void> idle_report(ImapSession& s) {
  if (s.notify) co_await report_notifications(s, true);
  else if (s.view) co_await announce(s, true);
  bool flushed = false;
  if (!s.lost) flushed = co_await s.conn().flush(s.config().limits.write_timeout);
  if (!flushed) s.lost = true;
}

std::chrono::steady_clock::time_point idle_deadline(const ImapSession& s) {
  return std::min(s.idle->next_keepalive, s.idle->started + s.config().limits.idle_timeout);
}

asio::awaitable<void> idle_input(ImapSession& s, ReadStatus status, const std::string& line) {
  auto& conn = s.conn();
  const auto& limits = s.config().limits;
  switch (status) {
    case ReadStatus::interrupted: co_return;
    case ReadStatus::timeout: {
      const auto now = std::chrono::steady_clock::now();
      if (now - s.idle->started >= limits.idle_timeout) {
        co_await s.send("* BYE Autologout; idle for too long\r\n");
        s.lost = true;
        co_return;
      }
      co_await s.send("* OK Still here\r\n");
      bool flushed = false;
      if (!s.lost) flushed = co_await conn.flush(limits.write_timeout);
      if (!flushed) s.lost = true;
      s.idle->next_keepalive = now + s.config().imap.idle_keepalive;
      co_return;
    }
    case ReadStatus::ok: {
      Reply reply = ascii_iequals(line, "DONE") ? ok("IDLE terminated") : bad("Expected DONE");
      const std::string tag = std::move(s.idle->tag);
      s.idle.reset();
      if (s.state == State::selected && s.view) co_await announce(s, true);
      if (!s.lost) s.tagged(tag, reply.status, reply.text);
      co_return;
    }
    case ReadStatus::stopped:
      co_await s.send(conn.stop_reason() == StopReason::kicked ? "* BYE Disconnected by the administrator\r\n"
                                                                : "* BYE [UNAVAILABLE] Server shutting down\r\n");
      s.lost = true;
      co_return;
    default: s.lost = true;
  }
}

}  // namespace roost::imap

// IDLE (RFC 2177, RFC 9051 §6.3.13): the selected folder's news as it
// happens. A change anywhere (this process, lmtpd in another, another
// program writing the maildir) bumps what the event loop's inotify watcher
// watches; the watcher wakes this session's read, which then reports.
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include "../notify.hpp"
#include "commands.hpp"
#include "roost/storage/watch.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> idle(ImapSession& s, const Request&) {
  auto& conn = s.conn();
  const auto& limits = s.config().limits;
  co_await s.send("+ idling\r\n");
  if (s.lost || !co_await conn.flush(limits.write_timeout)) {
    s.lost = true;
    co_return Reply{.sent = true};
  }
  // With NOTIFY in effect its watches say what to report (RFC 5465 §4),
  // and what SELECTED-DELAYED held back goes out now.
  std::optional<storage::ChangeWatcher::Subscription> subscription;
  if (s.notify) {
    if (s.view && s.notify->selected_events != 0) co_await announce(s, true);
  } else if (s.view) {
    auto& context = static_cast<asio::io_context&>(asio::query(conn.executor(), asio::execution::context));
    subscription = storage::ChangeWatcher::of(context).subscribe(*s.view, [c = &conn] { c->interrupt(); });
  }
  const auto keepalive = s.config().imap.idle_keepalive;
  const auto started = std::chrono::steady_clock::now();
  std::string line;
  for (;;) {
    if (s.notify || s.view) {
      if (s.notify) co_await report_notifications(s, true);
      else co_await announce(s, true);
      if (s.lost || !co_await conn.flush(limits.write_timeout)) {
        s.lost = true;
        co_return Reply{.sent = true};
      }
    }
    auto status = co_await conn.read_line(line, limits.max_line_length, keepalive);
    if (status == ReadStatus::interrupted) continue;
    if (status == ReadStatus::timeout) {
      if (std::chrono::steady_clock::now() - started >= limits.idle_timeout) {
        co_await s.send("* BYE Autologout; idle for too long\r\n");
        s.lost = true;
        co_return Reply{.sent = true};
      }
      co_await s.send("* OK Still here\r\n");
      if (s.lost || !co_await conn.flush(limits.write_timeout)) {
        s.lost = true;
        co_return Reply{.sent = true};
      }
      continue;
    }
    if (status != ReadStatus::ok) {
      if (status == ReadStatus::stopped)
        co_await s.send(conn.stop_reason() == StopReason::kicked ? "* BYE Disconnected by the administrator\r\n"
                                                                  : "* BYE [UNAVAILABLE] Server shutting down\r\n");
      s.lost = true;
      co_return Reply{.sent = true};
    }
    if (ascii_iequals(line, "DONE")) break;
    co_return bad("Expected DONE");
  }
  co_return ok("IDLE terminated");
}

}  // namespace roost::imap::commands

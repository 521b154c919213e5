// IDLE (RFC 2177, RFC 9051 §6.3.13) as a state of the session rather than a
// running command: the IDLE command sets it up and returns, and the session
// loop waits (parked, with no coroutine frame) until DONE, the folder's news,
// a keep-alive or the autologout deadline.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "roost/core/connection.hpp"
#include "roost/storage/watch.hpp"
#include "session.hpp"

namespace roost::imap {

struct IdleState {
  std::string tag;
  // Wakes the session when the selected folder changes (none with NOTIFY,
  // whose watches do that).
  std::optional<storage::ChangeWatcher::Subscription> subscription;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point next_keepalive;
};

// The news to report while idling (the selected folder's, or NOTIFY's),
// written out; a failed write loses the session.
asio::awaitable<void> idle_report(ImapSession& s);

// When the idling session must wake by itself: the next keep-alive or the
// autologout.
std::chrono::steady_clock::time_point idle_deadline(const ImapSession& s);

// What the wait while idling brought: DONE ends IDLE with its tagged reply,
// a timeout sends a keep-alive or logs out, an interrupt needs nothing more
// (idle_report follows), anything else ends the session.
asio::awaitable<void> idle_input(ImapSession& s, ReadStatus status, const std::string& line);

}  // namespace roost::imap

// APOP (RFC 1939 §7) needs every password stored reversibly; Roost keeps
// only hashes, so it is refused, and the greeting carries no timestamp.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> apop(Pop3Session& s, const Command&) {
  co_await s.send("-ERR APOP is not supported; use USER/PASS over TLS or AUTH\r\n");
}

}  // namespace roost::pop3::commands

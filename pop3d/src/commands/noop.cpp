// NOOP (RFC 1939 §5).
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> noop(Pop3Session& s, const Command&) { co_await s.send("+OK\r\n"); }

}  // namespace roost::pop3::commands

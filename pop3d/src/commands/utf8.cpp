// UTF8 (RFC 6856 §2). Roost takes user names and passwords as UTF-8 and
// sends messages as stored whether or not the client said UTF8, so the
// command only acknowledges (docs/pop3.md).
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> utf8(Pop3Session& s, const Command&) {
  co_await s.send("+OK UTF8 enabled\r\n");
}

}  // namespace roost::pop3::commands

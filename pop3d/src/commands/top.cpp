// TOP (RFC 1939 §7): the header, the empty line and the first n lines of
// the body; the message stays unretrieved.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> top(Pop3Session& s, const Command& c) {
  const auto& t = std::get<Top>(c);
  Message* m = s.find(t.message);
  if (!m) {
    co_await s.send("-ERR No such message\r\n");
    co_return;
  }
  co_await send_message(s, *m, t.lines);
}

}  // namespace roost::pop3::commands

// RETR (RFC 1939 §5): the whole message; it gets \Seen at QUIT when
// [pop3] mark_seen is on.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> retr(Pop3Session& s, const Command& c) {
  Message* m = s.find(std::get<Retr>(c).message);
  if (!m) {
    co_await s.send("-ERR No such message\r\n");
    co_return;
  }
  co_await send_message(s, *m, std::nullopt);
  if (!s.lost) m->retrieved = true;
}

}  // namespace roost::pop3::commands

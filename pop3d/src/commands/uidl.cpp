// UIDL (RFC 1939 §7): [pop3] uidl_format over the UID, UIDVALIDITY and file
// name, all stable across sessions, restarts and index rebuilds.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> uidl(Pop3Session& s, const Command& c) {
  const auto& u = std::get<Uidl>(c);
  if (u.message) {
    const Message* m = s.find(*u.message);
    std::string response =
        m ? "+OK " + std::to_string(*u.message) + " " + s.uidl(*m) + "\r\n" : std::string("-ERR No such message\r\n");
    co_await s.send(response);
    co_return;
  }
  std::string response = "+OK Unique-ID listing follows\r\n";
  for (std::size_t i = 0; i < s.messages.size() && !s.lost; ++i) {
    if (s.messages[i].deleted) continue;
    response += std::to_string(i + 1);
    response += ' ';
    response += s.uidl(s.messages[i]);
    response += "\r\n";
    if (response.size() >= 64 * 1024) {
      co_await s.send(response);
      response.clear();
    }
  }
  response += ".\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

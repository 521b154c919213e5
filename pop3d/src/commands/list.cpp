// LIST (RFC 1939 §5): sizes with CRLF line ends, as RETR sends them.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> list(Pop3Session& s, const Command& c) {
  const auto& l = std::get<List>(c);
  if (l.message) {
    const Message* m = s.find(*l.message);
    std::string response = m ? "+OK " + std::to_string(*l.message) + " " + std::to_string(m->entry.size) + "\r\n"
                             : std::string("-ERR No such message\r\n");
    co_await s.send(response);
    co_return;
  }
  std::string response = "+OK Scan listing follows\r\n";
  for (std::size_t i = 0; i < s.messages.size() && !s.lost; ++i) {
    if (s.messages[i].deleted) continue;
    response += std::to_string(i + 1);
    response += ' ';
    response += std::to_string(s.messages[i].entry.size);
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

// LIST (RFC 1939 §5): sizes with CRLF line ends, as RETR sends them.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> list(Pop3Session& s, const Command& c) {
  const auto& l = std::get<List>(c);
  if (l.message) {
    const Message* m = s.find(*l.message);
    std::string response = m ? "+OK " + std::to_string(*l.message) + " " + std::to_string(m->size) + "\r\n"
                             : std::string("-ERR No such message\r\n");
    co_await s.send(response);
    co_return;
  }
  std::function<void(const Message&, std::string&)> value = [](const Message& m, std::string& out) {
    append_decimal(out, m.size);
  };
  co_await send_listing(s, "Scan listing follows", value);
}

}  // namespace roost::pop3::commands

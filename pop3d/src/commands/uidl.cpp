// UIDL (RFC 1939 §7): the UIDL a migration recorded, else [pop3] uidl_format
// over the UID, UIDVALIDITY and file name; all stable across sessions,
// restarts and index rebuilds.
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
  std::function<void(const Message&, std::string&)> value = [&s](const Message& m, std::string& out) {
    s.append_uidl(m, out);
  };
  co_await send_listing(s, "Unique-ID listing follows", value);
}

}  // namespace roost::pop3::commands

// DELE (RFC 1939 §5): marks the message; nothing changes in the maildrop
// before QUIT, and RSET takes the marks back.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> dele(Pop3Session& s, const Command& c) {
  std::uint32_t n = std::get<Dele>(c).message;
  Message* m = s.find(n);
  if (!m) {
    bool gone = n >= 1 && n <= s.messages.size();
    co_await s.send(gone ? "-ERR Message already deleted\r\n" : "-ERR No such message\r\n");
    co_return;
  }
  m->deleted = true;
  std::string response = "+OK Message " + std::to_string(n) + " deleted\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

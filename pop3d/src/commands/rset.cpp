// RSET (RFC 1939 §5): every DELE of this session taken back.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> rset(Pop3Session& s, const Command&) {
  std::uint64_t count = 0, octets = 0;
  for (auto& m : s.messages) {
    m.deleted = false;
    ++count;
    octets += m.size;
  }
  std::string response = "+OK " + std::to_string(count) + " messages (" + std::to_string(octets) + " octets)\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

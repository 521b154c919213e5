// STAT (RFC 1939 §5): messages and octets, deleted ones excluded; from the
// snapshot, no storage call.
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> stat(Pop3Session& s, const Command&) {
  std::uint64_t count = 0, octets = 0;
  for (const auto& m : s.messages) {
    if (m.deleted) continue;
    ++count;
    octets += m.size;
  }
  std::string response = "+OK " + std::to_string(count) + " " + std::to_string(octets) + "\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

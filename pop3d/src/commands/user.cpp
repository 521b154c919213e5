// USER and PASS (RFC 1939 §7), only where cleartext passwords are allowed
// (over TLS, or on loopback when the configuration says so).
#include "commands.hpp"

namespace roost::pop3::commands {

asio::awaitable<void> user(Pop3Session& s, const Command& c) {
  if (!s.net.plaintext_allowed()) {
    co_await s.send("-ERR Plaintext authentication needs TLS; use STLS or port 995\r\n");
    co_return;
  }
  s.user_name = std::get<User>(c).name;
  co_await s.send("+OK Send PASS\r\n");
}

asio::awaitable<void> pass(Pop3Session& s, const Command& c) {
  if (!s.net.plaintext_allowed()) {
    co_await s.send("-ERR Plaintext authentication needs TLS; use STLS or port 995\r\n");
    co_return;
  }
  if (s.user_name.empty()) {
    co_await s.send("-ERR Send USER first\r\n");
    co_return;
  }
  std::string name = std::move(s.user_name);
  s.user_name.clear();
  const std::string& password = std::get<Pass>(c).password;
  auto outcome = co_await authenticate_password(s.net, name, password);
  co_await finish_login(s, outcome);
}

}  // namespace roost::pop3::commands

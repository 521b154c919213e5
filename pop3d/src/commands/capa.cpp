// CAPA (RFC 2449 §5): exactly what works on this connection now.
#include <chrono>

#include "commands.hpp"
#include "roost/core/starttls.hpp"

namespace roost::pop3::commands {

asio::awaitable<std::string> capabilities(Pop3Session& s) {
  std::string out = "TOP\r\nUIDL\r\n";
  if (s.state == State::authorization && s.net.plaintext_allowed()) out += "USER\r\n";
  out += "PIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n";
  if (s.state == State::authorization) {
    auto mechanisms = co_await offered_mechanisms(s.net);
    if (!mechanisms.empty()) {
      out += "SASL";
      for (const auto& m : mechanisms) out += " " + m;
      out += "\r\n";
    }
    if (tls_upgrade_offered(s.net)) out += "STLS\r\n";
  }
  // Roost never deletes mail on its own.
  out += "EXPIRE NEVER\r\n";
  auto delay = std::chrono::duration_cast<std::chrono::seconds>(s.config().pop3.login_delay).count();
  out += "LOGIN-DELAY " + std::to_string(delay) + "\r\n";
  out += "UTF8\r\nLANG\r\nIMPLEMENTATION Roost\r\n";
  co_return out;
}

asio::awaitable<void> capa(Pop3Session& s, const Command&) {
  std::string caps = co_await capabilities(s);
  std::string response = "+OK Capability list follows\r\n" + caps + ".\r\n";
  co_await s.send(response);
}

}  // namespace roost::pop3::commands

// ENABLE (RFC 5161): turns on, for the rest of the session, the announced
// extensions that change how the server talks; "* ENABLED" lists those
// turned on. IMAP4rev2 (RFC 9051) is the one such extension here.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> enable(ImapSession& s, const Request& r) {
  std::string enabled = "* ENABLED";
  for (const auto& capability : std::get<Enable>(r.command).capabilities) {
    if (capability == "IMAP4REV2" && !s.rev2) {
      s.rev2 = true;
      enabled += " IMAP4rev2";
    }
  }
  enabled += "\r\n";
  co_await s.send(enabled);
  co_return ok("ENABLE completed");
}

}  // namespace roost::imap::commands

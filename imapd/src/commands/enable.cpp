// ENABLE (RFC 5161): turns on, for the rest of the session, the announced
// extensions that change how the server talks; "* ENABLED" lists those
// turned on: IMAP4rev2 (RFC 9051), CONDSTORE and QRESYNC (RFC 7162).
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> enable(ImapSession& s, const Request& r) {
  std::string enabled = "* ENABLED";
  bool condstore_now = false;
  for (const auto& capability : std::get<Enable>(r.command).capabilities) {
    if (capability == "IMAP4REV2" && !s.rev2) {
      s.rev2 = true;
      enabled += " IMAP4rev2";
    } else if (capability == "CONDSTORE" && !s.condstore) {
      enabled += " CONDSTORE";
      s.condstore = true;
      condstore_now = true;
    } else if (capability == "QRESYNC" && !s.qresync) {
      // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
      enabled += " QRESYNC";
      s.qresync = true;
      condstore_now = condstore_now || !s.condstore;
      s.condstore = true;
    }
  }
  enabled += "\r\n";
  // RFC 7162 §3.1: the first enabling command with a mailbox selected
  // reports its HIGHESTMODSEQ.
  if (condstore_now && s.view)
    enabled += "* OK [HIGHESTMODSEQ " + std::to_string(s.view->highest_modseq()) + "] Highest\r\n";
  co_await s.send(enabled);
  co_return ok("ENABLE completed");
}

}  // namespace roost::imap::commands

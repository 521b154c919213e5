// ENABLE (RFC 5161): turns on, for the rest of the session, the announced
// extensions that change how the server talks; "* ENABLED" lists those
// turned on: IMAP4rev2 (RFC 9051), CONDSTORE and QRESYNC (RFC 7162),
// UTF8=ACCEPT (RFC 6855).
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> enable(ImapSession& s, const Request& r) {
  std::string enabled = "* ENABLED";
  // What was on before this command: an extension asked for is listed if
  // this command turned it on, even when another one it named implied it
  // ("ENABLE QRESYNC CONDSTORE" lists both).
  const bool condstore_before = s.condstore;
  for (const auto& capability : std::get<Enable>(r.command).capabilities) {
    if (capability == "IMAP4REV2" && !s.rev2) {
      s.rev2 = true;
      enabled += " IMAP4rev2";
    } else if (capability == "CONDSTORE" && !condstore_before && enabled.find(" CONDSTORE") == std::string::npos) {
      enabled += " CONDSTORE";
      s.condstore = true;
    } else if (capability == "QRESYNC" && !s.qresync) {
      // QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
      enabled += " QRESYNC";
      s.qresync = true;
      s.condstore = true;
    } else if (capability == "UTF8=ACCEPT" && !s.utf8_accept) {
      s.utf8_accept = true;
      enabled += " UTF8=ACCEPT";
    }
  }
  const bool condstore_now = s.condstore && !condstore_before;
  enabled += "\r\n";
  // RFC 7162 §3.1: the first enabling command with a mailbox selected
  // reports its HIGHESTMODSEQ.
  if (condstore_now && s.view)
    enabled += "* OK [HIGHESTMODSEQ " + std::to_string(s.view->highest_modseq()) + "] Highest\r\n";
  co_await s.send(enabled);
  co_return ok("ENABLE completed");
}

}  // namespace roost::imap::commands

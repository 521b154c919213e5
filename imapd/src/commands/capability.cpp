// CAPABILITY (RFC 9051 §6.1.1): exactly what works, before and after login.
#include "commands.hpp"
#include "roost/core/connection.hpp"
#include "roost/core/session_auth.hpp"
#include "roost/core/starttls.hpp"

namespace roost::imap::commands {

asio::awaitable<std::string> capabilities(ImapSession& s) {
  std::string caps = "IMAP4rev1 IMAP4rev2 SASL-IR ID ENABLE IDLE";
  caps += s.config().imap.literal_minus ? " LITERAL-" : " LITERAL+";
  if (s.state == State::not_authenticated) {
    if (tls_upgrade_offered(s.net)) caps += " STARTTLS";
    if (!s.net.plaintext_allowed()) caps += " LOGINDISABLED";
    std::vector<std::string> mechanisms = co_await offered_mechanisms(s.net);
    for (const auto& mechanism : mechanisms) caps += " AUTH=" + mechanism;
    co_return caps;
  }
  caps += " NAMESPACE UNSELECT UIDPLUS MOVE MULTIAPPEND CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE"
          " CREATE-SPECIAL-USE ESEARCH SEARCHRES BINARY UNAUTHENTICATE QUOTA QUOTA=RES-STORAGE"
          " QUOTA=RES-MESSAGE";
  if (is_quota_admin(s)) caps += " QUOTASET";
  caps += " STATUS=SIZE PREVIEW SAVEDATE XLIST SORT SORT=DISPLAY I18NLEVEL=1 THREAD=ORDEREDSUBJECT"
          " THREAD=REFERENCES THREAD=REFS CONDSTORE QRESYNC WITHIN ESORT CONTEXT=SEARCH CONTEXT=SORT"
          " OBJECTID PARTIAL REPLACE METADATA LIST-METADATA UTF8=ACCEPT CATENATE MULTISEARCH SEARCH=FUZZY NOTIFY";
  if (!s.net.connection->compression_active()) caps += " COMPRESS=DEFLATE";
  caps += " APPENDLIMIT=" + std::to_string(s.config().imap.max_message_size);
  co_return caps;
}

asio::awaitable<Reply> capability(ImapSession& s, const Request&) {
  std::string caps = co_await capabilities(s);
  std::string line = "* CAPABILITY " + caps + "\r\n";
  co_await s.send(line);
  co_return ok("CAPABILITY completed");
}

}  // namespace roost::imap::commands

// ENABLE (RFC 5161): turns on the extensions named that this server has and
// that change how it talks; "* ENABLED" lists those that were turned on.
// None of the announced capabilities needs enabling yet: IMAP4rev2 and
// UTF8=ACCEPT are not announced, so they are not enabled either.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> enable(ImapSession& s, const Request&) {
  co_await s.send("* ENABLED\r\n");
  co_return ok("ENABLE completed");
}

}  // namespace roost::imap::commands

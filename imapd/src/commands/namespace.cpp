// NAMESPACE (RFC 2342): one personal namespace, no prefix, "/" between levels.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> namespace_(ImapSession& s, const Request&) {
  co_await s.send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  co_return ok("NAMESPACE completed");
}

}  // namespace roost::imap::commands

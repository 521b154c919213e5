// ID (RFC 2971): the client's fields go to the log (bounded), ours back.
#include "commands.hpp"
#include "roost/core/log.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> id(ImapSession& s, const Request& r) {
  const auto& request = std::get<Id>(r.command);
  if (request.fields) {
    std::string client;
    for (const auto& [field, value] : *request.fields) {
      if (client.size() > 512) break;
      client += field + "=" + value.value_or("NIL") + " ";
    }
    log::info(s.net.log_context(), "client_id", {{"id", client}});
  }
  co_await s.send("* ID (\"name\" \"Roost\" \"vendor\" \"Roost\")\r\n");
  co_return ok("ID completed");
}

}  // namespace roost::imap::commands

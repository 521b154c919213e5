#include "session.hpp"

#include "roost/core/log.hpp"

namespace roost::pop3 {

asio::awaitable<void> Pop3Session::send(std::string_view bytes) {
  auto& c = conn();
  const std::size_t chunk = std::max<std::size_t>(c.output_limit() / 2, 4096);
  while (!bytes.empty() && !lost) {
    std::string_view piece = bytes.substr(0, chunk);
    if (c.buffered_output() + piece.size() > c.output_limit() || c.buffered_output() >= chunk) {
      if (!co_await c.flush(config().limits.write_timeout)) {
        lost = true;
        co_return;
      }
    }
    if (!c.send(piece)) {
      lost = true;
      co_return;
    }
    bytes.remove_prefix(piece.size());
  }
}

Message* Pop3Session::find(std::uint32_t n) {
  if (n == 0 || n > messages.size() || messages[n - 1].deleted) return nullptr;
  return &messages[n - 1];
}

std::string Pop3Session::uidl(const Message& m) const {
  return config().pop3.uidl_format.render(m.entry.uid, inbox->uidvalidity(), m.entry.file_name);
}

std::string storage_error(Pop3Session& session, const storage::Error& error) {
  log::warning(session.net.log_context(), "storage_error",
               {{"kind", storage::describe(error.kind)}, {"detail", error.detail}});
  switch (error.kind) {
    case storage::ErrorKind::temporary:
    case storage::ErrorKind::expunged:
      return "-ERR [SYS/TEMP] Temporary failure, try again later (session " + session.net.id_text + ")\r\n";
    default:
      return "-ERR [SYS/PERM] Internal error (session " + session.net.id_text + ")\r\n";
  }
}

}  // namespace roost::pop3

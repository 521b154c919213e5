// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: all or none),
// APPENDUID (RFC 4315) and literal8 messages (RFC 3516 §4.4).
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

std::expected<storage::NewMessage, Reply> new_message(const AppendMessage& m) {
  if (m.data.empty()) return std::unexpected(no("[CANNOT] A message cannot be empty"));
  auto flags = to_storage_flags(m.flags);
  if (!flags) return std::unexpected(bad(flags.error()));
  storage::NewMessage n;
  n.data = m.data;
  n.internal_date = m.internal_date.value_or(0);
  n.flags = std::move(*flags);
  return n;
}

asio::awaitable<Reply> append(ImapSession& s, const Request& r) {
  const auto& a = std::get<Append>(r.command);
  auto name = s.mailbox_from_wire(a.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");
  std::vector<storage::NewMessage> messages;
  for (const auto& m : a.messages) {
    auto message = new_message(m);
    if (!message) co_return message.error();
    messages.push_back(std::move(*message));
  }
  storage::Result<storage::Appended> appended;
  auto work = [&]() { appended = s.mail->append(*name, std::move(messages)); };
  co_await s.blocking(work);
  if (!appended) {
    if (appended.error().kind == storage::ErrorKind::not_found) co_return no("[TRYCREATE] No such mailbox");
    co_return storage_error(s, appended.error());
  }
  std::vector<std::uint32_t> uids(appended->uids.begin(), appended->uids.end());
  co_return ok("[APPENDUID " + std::to_string(appended->uidvalidity) + " " + compact_set(uids) + "] APPEND completed");
}

}  // namespace roost::imap::commands

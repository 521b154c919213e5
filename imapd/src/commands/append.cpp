// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: all or none),
// APPENDUID (RFC 4315), literal8 messages (RFC 3516 §4.4) and UTF8
// (RFC 6855 §4).
#include <algorithm>

#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

namespace {

// Whether the header section (up to the first empty line) has an octet
// above 0x7f.
bool eight_bit_header(std::string_view message) {
  std::size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) end = message.find("\n\n");
  std::string_view header = message.substr(0, end);
  return std::any_of(header.begin(), header.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

std::expected<storage::NewMessage, Reply> new_message(const ImapSession& s, const AppendMessage& m) {
  if (m.data.empty()) return std::unexpected(no("[CANNOT] A message cannot be empty"));
  // RFC 6855 §4: UTF-8 header fields only from a client that enabled them.
  if (!s.utf8() && eight_bit_header(m.data))
    return std::unexpected(no("[CANNOT] 8-bit header fields need ENABLE UTF8=ACCEPT"));
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
    auto message = new_message(s, m);
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

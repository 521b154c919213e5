#include "session.hpp"

#include <charconv>

#include "roost/core/log.hpp"

namespace roost::pop3 {

asio::awaitable<void> Pop3Session::send(std::string_view bytes) {
  // (Kept in this shape: with an early co_return before an awaited condition
  // g++ 12 compiled this function into a trap.)
  if (!lost) {
    const bool sent = co_await conn().send_flowing(bytes, config().limits.write_timeout);
    lost = !sent;
  }
}

Message* Pop3Session::find(std::uint32_t n) {
  if (n == 0 || n > messages.size() || messages[n - 1].deleted) return nullptr;
  return &messages[n - 1];
}

std::string Pop3Session::uidl(const Message& m) const {
  std::string out;
  append_uidl(m, out);
  return out;
}

void Pop3Session::append_uidl(const Message& m, std::string& out) const {
  const std::string_view text = std::string_view(texts).substr(m.text_at, m.file_name_size + m.uidl_size);
  if (m.uidl_size > 0) out += text.substr(m.file_name_size);
  else config().pop3.uidl_format.append(out, m.uid, inbox->uidvalidity(), text);
}

void Pop3Session::set_messages(std::vector<storage::MaildropEntry> listing) {
  messages.clear();
  texts.clear();
  messages.reserve(listing.size());
  for (const auto& entry : listing) {
    Message m;
    m.uid = entry.uid;
    m.size = entry.size;
    m.text_at = static_cast<std::uint32_t>(texts.size());
    // Longer ones are not made by any maildir writer (names) nor allowed by RFC 1939 §7 (UIDLs: 70).
    const std::string_view name = std::string_view(entry.file_name).substr(0, UINT16_MAX);
    const std::string_view uidl = std::string_view(entry.pop3_uidl).substr(0, UINT16_MAX);
    m.file_name_size = static_cast<std::uint16_t>(name.size());
    m.uidl_size = static_cast<std::uint16_t>(uidl.size());
    texts += name;
    texts += uidl;
    messages.push_back(m);
  }
  texts.shrink_to_fit();
}

void append_decimal(std::string& out, std::uint64_t n) {
  char digits[20];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

asio::awaitable<void> send_listing(Pop3Session& s, std::string_view header,
                                   const std::function<void(const Message&, std::string&)>& value) {
  std::string response = "+OK ";
  response += header;
  response += "\r\n";
  for (std::size_t i = 0; i < s.messages.size() && !s.lost; ++i) {
    if (s.messages[i].deleted) continue;
    append_decimal(response, i + 1);
    response += ' ';
    value(s.messages[i], response);
    response += "\r\n";
    if (response.size() >= 64 * 1024) {
      co_await s.send(response);
      response.clear();
    }
  }
  response += ".\r\n";
  co_await s.send(response);
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

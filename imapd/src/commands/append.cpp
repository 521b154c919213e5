// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: all or none),
// APPENDUID (RFC 4315), literal8 messages (RFC 3516 §4.4), UTF8 (RFC 6855
// §4) and CATENATE (RFC 4469).
#include <algorithm>

#include "../sections.hpp"
#include "../notify.hpp"
#include "commands.hpp"
#include "roost/imapd/imap_url.hpp"
#include "roost/imapd/writer.hpp"
#include "roost/storage/mailbox_name.hpp"

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

// The bytes a CATENATE URL names (RFC 4469 §3, as FETCH BODY[section]
// would return them, without setting \Seen), or the NO [BADURL] refusal.
// Blocking: for the pool.
std::expected<std::string, Reply> url_data(ImapSession& s, const std::string& text) {
  // url-resp-text has no ']' (RFC 4469 §5).
  std::string quoted = text;
  std::erase_if(quoted, [](char c) { return c == ']' || c == '\r' || c == '\n'; });
  auto refuse = [&](std::string_view why) { return std::unexpected(no("[BADURL " + quoted + "] " + std::string(why))); };
  auto url = parse_imap_url(text);
  if (!url) return refuse("Only a relative IMAP URL of a message or part on this server will do");
  // The URL's mailbox may be %-encoded UTF-8 or modified UTF-7.
  const bool eight_bit = std::any_of(url->mailbox.begin(), url->mailbox.end(),
                                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  std::optional<std::string> utf8 = url->mailbox;
  if (!eight_bit) {
    auto decoded = storage::decode_mutf7(url->mailbox);
    utf8 = decoded ? std::optional<std::string>(*decoded) : std::nullopt;
  }
  if (!utf8) return refuse("No such mailbox");
  auto name = storage::canonical_name(*utf8);
  if (!name) return refuse("No such mailbox");
  std::unique_ptr<storage::FolderView> opened;
  storage::FolderView* view = s.view && s.view->name() == *name ? s.view.get() : nullptr;
  if (view == nullptr) {
    auto o = s.mail->open(*name, true);
    if (!o) return refuse("No such mailbox");
    opened = std::move(*o);
    view = opened.get();
  }
  if (url->uidvalidity && *url->uidvalidity != view->uidvalidity()) return refuse("UIDVALIDITY has changed");
  const auto& uids = view->uids();
  if (!std::binary_search(uids.begin(), uids.end(), url->uid)) return refuse("No such message");
  auto raw = view->read(url->uid);
  auto caches = view->caches({url->uid}, index::cache_field::parts);
  if (!raw || !caches || caches->empty()) return refuse("No such message");
  auto data = section_data(caches->front().second.parts, url->section, *raw);
  if (!data) return refuse("No such part");
  if (url->partial) {
    const std::uint64_t offset = std::min<std::uint64_t>(url->partial->offset, data->size());
    const std::uint64_t length = url->partial->length == 0 ? data->size() - offset : url->partial->length;
    *data = data->substr(offset, length);
  }
  return std::move(*data);
}

}  // namespace

// Builds a CATENATE message (RFC 4469). `left` is what the whole APPEND may
// still hold, its messages and the data its URLs bring in together: a short
// command of many URLs to a big message must not cost more than the
// literals of a MULTIAPPEND may.
asio::awaitable<std::expected<std::string, Reply>> catenated(ImapSession& s, const AppendMessage& m,
                                                            std::uint64_t& left) {
  std::expected<std::string, Reply> out{std::string()};
  auto work = [&]() {
    const std::uint64_t limit = std::min<std::uint64_t>(s.config().imap.max_message_size, left);
    for (const auto& part : m.catenate) {
      if (!part.url) {
        out->append(part.data);
      } else {
        auto data = url_data(s, part.data);
        if (!data) {
          out = std::unexpected(data.error());
          return;
        }
        out->append(*data);
      }
      // RFC 4469 §4.2: the whole must fit.
      if (out->size() > limit) {
        out = std::unexpected(no("[TOOBIG] The catenated message is too large"));
        return;
      }
    }
    left -= out->size();
  };
  co_await s.blocking(work);
  co_return out;
}

std::expected<storage::NewMessage, Reply> new_message(const ImapSession& s, const AppendMessage& m, std::string data) {
  if (data.empty()) return std::unexpected(no("[CANNOT] A message cannot be empty"));
  // RFC 6855 §4 says UTF-8 header fields come only from a client that
  // enabled them; old mail from broken mailers has raw 8-bit fields, and
  // migration tools append it as it is: stored as received unless the
  // operator asks for the strict rule.
  if (s.config().imap.strict_utf8_headers && !s.utf8() && eight_bit_header(data))
    return std::unexpected(no("[CANNOT] 8-bit header fields need ENABLE UTF8=ACCEPT"));
  auto flags = to_storage_flags(m.flags);
  if (!flags) return std::unexpected(bad(flags.error()));
  storage::NewMessage n;
  n.data = std::move(data);
  n.internal_date = m.internal_date.value_or(0);
  n.flags = std::move(*flags);
  return n;
}

asio::awaitable<Reply> append(ImapSession& s, const Request& r) {
  const auto& a = std::get<Append>(r.command);
  auto name = s.mailbox_from_wire(a.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");
  std::vector<storage::NewMessage> messages;
  // The whole APPEND's bytes, as for MULTIAPPEND's literals (4 messages' worth).
  std::uint64_t left = 4 * static_cast<std::uint64_t>(s.config().imap.max_message_size);
  for (const auto& m : a.messages) {
    if (m.data.size() > left) co_return no("[TOOBIG] The messages of this APPEND are too large together");
    left -= m.data.size();
    std::string data = m.data;
    if (!m.catenate.empty()) {
      auto built = co_await catenated(s, m, left);
      if (!built) co_return built.error();
      data = std::move(*built);
    }
    auto message = new_message(s, m, std::move(data));
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
  note_own_messages(s, *name, appended->uids);
  std::vector<std::uint32_t> uids(appended->uids.begin(), appended->uids.end());
  co_return ok("[APPENDUID " + std::to_string(appended->uidvalidity) + " " + compact_set(uids) + "] APPEND completed");
}

}  // namespace roost::imap::commands

// COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851) with COPYUID (RFC 4315).
#include <algorithm>

#include "../notify.hpp"
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> copy(ImapSession& s, const Request& r) {
  const auto& c = std::get<Copy>(r.command);
  const char* verb = c.move ? "MOVE" : "COPY";
  auto uids = s.resolve(c.set, r.uid);
  if (!uids) co_return bad("[CLIENTBUG] Invalid message sequence number");
  auto name = s.mailbox_from_wire(c.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");
  if (c.move && s.view->read_only()) co_return no("[READ-ONLY] Mailbox is read-only");
  if (uids->empty()) co_return ok(std::string(verb) + " completed, no messages");
  storage::Result<storage::FolderView::Copied> copied;
  auto work = [&]() { copied = s.view->copy(*uids, *name, c.move); };
  co_await s.blocking(work);
  if (!copied) {
    if (copied.error().kind == storage::ErrorKind::not_found) co_return no("[TRYCREATE] No such mailbox");
    co_return storage_error(s, copied.error());
  }
  note_own_messages(s, *name, copied->destination);
  std::string code;
  if (!copied->source.empty()) {
    std::vector<std::uint32_t> from(copied->source.begin(), copied->source.end());
    std::vector<std::uint32_t> to(copied->destination.begin(), copied->destination.end());
    // COPYUID pairs source and destination UIDs by position: both are
    // ascending here, so compact sets keep the pairing.
    std::string source_set = compact_set(from), destination_set;
    if (std::is_sorted(to.begin(), to.end())) {
      destination_set = compact_set(to);
    } else {
      source_set.clear();
      for (std::size_t i = 0; i < from.size(); ++i) {
        if (i > 0) {
          source_set += ',';
          destination_set += ',';
        }
        source_set += std::to_string(from[i]);
        destination_set += std::to_string(to[i]);
      }
    }
    code = "[COPYUID " + std::to_string(copied->uidvalidity) + " " + source_set + " " + destination_set + "] ";
  }
  if (c.move) {
    // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
    std::string moved = "* OK " + code + "Moved\r\n";
    if (!code.empty()) co_await s.send(moved);
    co_await announce(s, true);
    co_return ok("MOVE completed");
  }
  co_return ok(code + "COPY completed");
}

}  // namespace roost::imap::commands

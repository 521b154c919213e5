// STATUS (RFC 9051 §6.3.11, STATUS=SIZE RFC 8438, HIGHESTMODSEQ RFC 7162
// §3.1.7, MAILBOXID RFC 8474 §4.3): answered from the user's folder
// counters without opening the folder (MAILBOXID reads the UID list's
// first line).
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

storage::Result<FolderReport> folder_report(ImapSession& s, std::string_view name,
                                            const std::vector<StatusItem>& items) {
  FolderReport report;
  auto counters = s.mail->status(name);
  if (!counters) return std::unexpected(counters.error());
  report.counters = *counters;
  if (std::find(items.begin(), items.end(), StatusItem::mailboxid) != items.end()) {
    auto id = s.mail->mailbox_id(name);
    if (!id) return std::unexpected(id.error());
    report.mailbox_id = std::move(*id);
  }
  return report;
}

std::string status_line(ImapSession& s, std::string_view name, const FolderReport& report,
                        const std::vector<StatusItem>& items) {
  const storage::FolderStatus& st = report.counters;
  std::string out = "* STATUS ";
  append_astring(out, s.mailbox_to_wire(name), s.utf8());
  out += " (";
  bool first = true;
  auto add = [&](std::string_view label, std::uint64_t value) {
    if (!first) out += ' ';
    first = false;
    out += label;
    out += ' ';
    out += std::to_string(value);
  };
  for (auto item : items) {
    switch (item) {
      case StatusItem::messages: add("MESSAGES", st.messages); break;
      case StatusItem::recent: add("RECENT", st.recent); break;
      case StatusItem::uidnext: add("UIDNEXT", st.uidnext); break;
      case StatusItem::uidvalidity: add("UIDVALIDITY", st.uidvalidity); break;
      case StatusItem::unseen: add("UNSEEN", st.unseen); break;
      case StatusItem::deleted: add("DELETED", st.deleted); break;
      case StatusItem::size: add("SIZE", st.size); break;
      case StatusItem::highestmodseq: add("HIGHESTMODSEQ", st.highest_modseq); break;
      case StatusItem::mailboxid:
        if (!first) out += ' ';
        first = false;
        out += "MAILBOXID (" + report.mailbox_id + ")";
        break;
    }
  }
  out += ")\r\n";
  return out;
}

asio::awaitable<Reply> status(ImapSession& s, const Request& r) {
  const auto& st = std::get<Status>(r.command);
  auto name = s.mailbox_from_wire(st.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");
  storage::Result<FolderReport> found;
  auto work = [&]() { found = folder_report(s, *name, st.items); };
  co_await s.blocking(work);
  if (!found) co_return storage_error(s, found.error());
  // STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command (RFC 7162 §3.1).
  if (std::find(st.items.begin(), st.items.end(), StatusItem::highestmodseq) != st.items.end())
    co_await s.enable_condstore();
  const std::string line = status_line(s, *name, *found, st.items);
  co_await s.send(line);
  co_return ok("STATUS completed");
}

}  // namespace roost::imap::commands

// STORE (RFC 9051 §6.4.6): FLAGS, +FLAGS, -FLAGS, .SILENT, keywords; the
// UNCHANGEDSINCE modifier and MODSEQ in the FETCH responses (RFC 7162
// §3.1.3).
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> store(ImapSession& s, const Request& r) {
  const auto& st = std::get<Store>(r.command);
  auto uids = s.resolve(st.set, r.uid);
  if (!uids) co_return bad("[CLIENTBUG] Invalid message sequence number");
  if (s.view->read_only()) co_return no("[READ-ONLY] Mailbox is read-only");
  auto flags = to_storage_flags(st.flags);
  if (!flags) co_return bad(flags.error());
  if (st.unchanged_since) co_await s.enable_condstore();
  storage::StoreMode mode = st.mode == StoreMode::add      ? storage::StoreMode::add
                            : st.mode == StoreMode::remove ? storage::StoreMode::remove
                                                           : storage::StoreMode::replace;
  // Who hears what: without .SILENT every message gets its flags; with it,
  // a CONDSTORE client still gets the new MODSEQ of each changed message
  // (RFC 7162 §3.1.3, Example 14), and messages that failed UNCHANGEDSINCE
  // come with their current flags so the client need not ask (Example 10).
  const bool report_all = !st.silent;
  const bool report_changed = s.condstore;
  storage::Result<storage::FolderView::StoreResult> stored;
  storage::Result<std::vector<storage::MessageInfo>> now;
  std::vector<std::string> keywords;
  auto work = [&]() {
    stored = s.view->store(*uids, mode, *flags, st.unchanged_since);
    if (stored && (report_all || report_changed || !stored->modified.empty())) now = s.view->messages(*uids);
    keywords = s.view->keywords();
  };
  co_await s.blocking(work);
  if (!stored) co_return storage_error(s, stored.error());
  // A keyword the folder had not known is announced before the FETCH that
  // first shows it (RFC 9051 §7.3.5: FLAGS lists the flags in use).
  if (std::string update = s.flags_update(keywords); !update.empty()) co_await s.send(update);
  s.flags_reported.insert(s.flags_reported.end(), uids->begin(), uids->end());
  const auto& changed = stored->changed;
  const auto& modified = stored->modified;  // both ascending
  if (now) {
    std::string out;
    for (const auto& m : *now) {
      const bool failed = std::binary_search(modified.begin(), modified.end(), m.uid);
      const bool with_flags = report_all || failed;
      const bool with_modseq = s.condstore && (with_flags || std::binary_search(changed.begin(), changed.end(), m.uid));
      if (!with_flags && !with_modseq) continue;
      auto seq = s.view->sequence_of(m.uid);
      if (!seq) continue;
      out += "* " + std::to_string(*seq) + " FETCH (";
      std::string items;
      // QRESYNC: every FETCH a STORE causes carries the UID (RFC 7162 §3.2.4).
      if (r.uid || s.rev2 || s.qresync) items += "UID " + std::to_string(m.uid);
      if (with_flags) {
        if (!items.empty()) items += ' ';
        items += "FLAGS " + ImapSession::flag_list(m.system_flags, m.keywords, m.recent && !s.rev2);
      }
      if (with_modseq) {
        if (!items.empty()) items += ' ';
        items += "MODSEQ (" + std::to_string(m.modseq) + ")";
      }
      out += items + ")\r\n";
    }
    co_await s.send(out);
  }
  if (!modified.empty()) {
    // MODIFIED names sequence numbers for STORE, UIDs for UID STORE.
    std::vector<std::uint32_t> numbers = r.uid ? modified : s.view->sequences_of(modified);
    std::sort(numbers.begin(), numbers.end());
    co_return ok("[MODIFIED " + compact_set(numbers) + "] Conditional STORE failed for some messages");
  }
  co_return ok(r.uid ? "UID STORE completed" : "STORE completed");
}

}  // namespace roost::imap::commands

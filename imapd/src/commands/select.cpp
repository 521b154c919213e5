// SELECT and EXAMINE (RFC 9051 §6.3.2-6.3.3, RFC 3501 §6.3.1-6.3.2): a view
// of the folder for this session and the untagged data a client needs;
// HIGHESTMODSEQ once CONDSTORE is on (RFC 7162 §3.1.2, §3.1.8), and with
// QRESYNC what changed and vanished since the client's MODSEQ (§3.2.5).
#include "../vanished.hpp"
#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {

namespace flag = index::flag;

asio::awaitable<Reply> select(ImapSession& s, const Request& r) {
  const auto& sel = std::get<Select>(r.command);
  if (sel.qresync && !s.qresync) co_return bad("[CLIENTBUG] QRESYNC needs ENABLE QRESYNC first");
  // Selecting ends any current selection, even when the new one fails.
  bool was_selected = s.view != nullptr;
  s.deselect();
  s.state = State::authenticated;
  // RFC 9051 §7.1, RFC 7162 §3.2.11.
  if (was_selected && (s.rev2 || s.qresync)) co_await s.send("* OK [CLOSED] Previous mailbox closed\r\n");
  if (sel.condstore) s.condstore = true;  // RFC 7162 §3.1.8; no mailbox is selected now
  auto name = s.mailbox_from_wire(sel.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");

  storage::Result<std::unique_ptr<storage::FolderView>> view;
  std::optional<std::uint32_t> first_unseen;
  storage::Result<std::string> mailbox_id;
  auto work = [&]() {
    view = s.mail->open(*name, sel.read_only);
    if (!view) return;
    mailbox_id = (*view)->mailbox_id();
    if ((*view)->uids().empty()) return;
    index::SearchKey unseen;
    unseen.kind = index::SearchKey::Kind::not_;
    unseen.children.emplace_back();
    unseen.children[0].kind = index::SearchKey::Kind::flags;
    unseen.children[0].flags = flag::seen;
    auto found = (*view)->search(unseen);
    if (found && !found->empty()) first_unseen = (*view)->sequence_of(found->front());
  };
  co_await s.blocking(work);
  if (!view) co_return storage_error(s, view.error());
  if (!mailbox_id) co_return storage_error(s, mailbox_id.error());
  s.view = std::move(*view);
  s.state = State::selected;
  auto& v = *s.view;
  std::string out = s.flags_update(v.keywords(), true);
  out += "* " + std::to_string(v.uids().size()) + " EXISTS\r\n";
  if (!s.rev2) {
    out += "* " + std::to_string(v.recent_count()) + " RECENT\r\n";
    if (first_unseen) out += "* OK [UNSEEN " + std::to_string(*first_unseen) + "] First unseen\r\n";
  }
  if (s.rev2) {
    // RFC 9051 §6.3.2: the mailbox's LIST response (its name as the server spells it).
    out += "* LIST () \"/\" ";
    append_astring(out, s.mailbox_to_wire(*name), true);
    out += "\r\n";
  }
  out += "* OK [UIDVALIDITY " + std::to_string(v.uidvalidity()) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(v.uidnext()) + "] Predicted next UID\r\n";
  // RFC 7162 §3.1.2.1: every SELECT after a CONDSTORE enabling command.
  if (s.condstore) out += "* OK [HIGHESTMODSEQ " + std::to_string(v.highest_modseq()) + "] Highest\r\n";
  out += "* OK [MAILBOXID (" + *mailbox_id + ")] Ok\r\n";  // RFC 8474 §4.2
  if (sel.qresync && sel.qresync->uidvalidity == v.uidvalidity()) {
    // RFC 7162 §3.2.5.1: what the client missed since its MODSEQ, as
    // "UID FETCH known-uids (FLAGS) (CHANGEDSINCE modseq VANISHED)" would say.
    const Qresync& q = *sel.qresync;
    const storage::Uid last = v.uidnext() - 1;
    const UidRanges known = q.known_uids ? uid_ranges(*q.known_uids, last) : UidRanges{{1, last}};
    const storage::Uid floor =
        q.sequence_match ? sequence_match_floor(q.sequence_match->first, q.sequence_match->second, v.uids()) : 0;
    storage::Result<storage::FolderView::ChangesSince> changes;
    storage::Result<std::vector<storage::MessageInfo>> changed;
    auto resync = [&]() {
      changes = v.changes_since(q.modseq);
      if (!changes) return;
      std::vector<storage::Uid> wanted;
      for (auto uid : changes->changed)
        if (contains(known, uid)) wanted.push_back(uid);
      changed = v.messages(wanted);
    };
    co_await s.blocking(resync);
    if (!changes) co_return storage_error(s, changes.error());
    if (!changed) co_return storage_error(s, changed.error());
    const std::string gone = vanished_since(*changes, known, floor, v.uidnext(), v.uids());
    if (!gone.empty()) out += "* VANISHED (EARLIER) " + gone + "\r\n";
    for (const auto& m : *changed) {
      auto seq = v.sequence_of(m.uid);
      if (!seq) continue;
      out += "* " + std::to_string(*seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS " +
             ImapSession::flag_list(m.system_flags, m.keywords, m.recent && !s.rev2) + s.modseq_item(m) + ")\r\n";
    }
  }
  co_await s.send(out);
  s.net.set_state("selected " + *name);
  co_return ok(sel.read_only ? "[READ-ONLY] EXAMINE completed" : "[READ-WRITE] SELECT completed");
}

}  // namespace roost::imap::commands

// STORE (RFC 9051 §6.4.6): FLAGS, +FLAGS, -FLAGS, .SILENT, keywords.
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> store(ImapSession& s, const Request& r) {
  const auto& st = std::get<Store>(r.command);
  auto uids = s.resolve(st.set, r.uid);
  if (!uids) co_return bad("[CLIENTBUG] Invalid message sequence number");
  if (s.view->read_only()) co_return no("[READ-ONLY] Mailbox is read-only");
  auto flags = to_storage_flags(st.flags);
  if (!flags) co_return bad(flags.error());
  storage::StoreMode mode = st.mode == StoreMode::add      ? storage::StoreMode::add
                            : st.mode == StoreMode::remove ? storage::StoreMode::remove
                                                           : storage::StoreMode::replace;
  storage::Result<storage::FolderView::StoreResult> stored;
  storage::Result<std::vector<storage::MessageInfo>> now;
  auto work = [&]() {
    stored = s.view->store(*uids, mode, *flags);
    if (stored && !st.silent) now = s.view->messages(*uids);
  };
  co_await s.blocking(work);
  if (!stored) co_return storage_error(s, stored.error());
  s.flags_reported.insert(s.flags_reported.end(), uids->begin(), uids->end());
  if (!st.silent && now) {
    std::string out;
    for (const auto& m : *now) {
      auto seq = s.view->sequence_of(m.uid);
      if (!seq) continue;
      out += "* " + std::to_string(*seq) + " FETCH (";
      if (r.uid || s.rev2) out += "UID " + std::to_string(m.uid) + " ";
      out += "FLAGS " + ImapSession::flag_list(m.system_flags, m.keywords, m.recent && !s.rev2) + ")\r\n";
    }
    co_await s.send(out);
  }
  co_return ok(r.uid ? "UID STORE completed" : "STORE completed");
}

}  // namespace roost::imap::commands

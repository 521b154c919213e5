// REPLACE and UID REPLACE (RFC 8508): APPEND a new message, then remove the
// one it replaces from the selected folder. The new message is durable
// before the old one goes, so a failure in between leaves both, never
// neither; a failed APPEND leaves the folder untouched (§3.3). APPENDUID
// comes in an untagged OK before the EXISTS and EXPUNGE (or VANISHED)
// responses, as MOVE sends COPYUID (§3.3, RFC 6851 §4.3).
#include "../notify.hpp"
#include "commands.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> replace(ImapSession& s, const Request& r) {
  const auto& rp = std::get<Replace>(r.command);
  SequenceSet one;
  one.ranges.push_back(SeqRange{rp.number, rp.number});
  auto found = s.resolve(one, r.uid);
  if (!found) co_return bad("[CLIENTBUG] Invalid message sequence number");
  if (found->empty()) co_return no("[EXPUNGEISSUED] No message with UID " + std::to_string(rp.number));
  const storage::Uid old_uid = found->front();
  if (s.view->read_only()) co_return no("[READ-ONLY] Mailbox is read-only");
  auto name = s.mailbox_from_wire(rp.mailbox);
  if (!name) co_return no("[CANNOT] Invalid mailbox name");
  std::string data = rp.message.data;
  if (!rp.message.catenate.empty()) {
    std::uint64_t left = s.config().imap.max_message_size;
    auto built = co_await catenated(s, rp.message, left);
    if (!built) co_return built.error();
    data = std::move(*built);
  }
  auto message = new_message(s, rp.message, std::move(data));
  if (!message) co_return message.error();

  storage::Result<storage::Appended> appended;
  storage::Result<std::vector<storage::Uid>> removed;
  auto work = [&]() {
    std::vector<storage::NewMessage> messages;
    messages.push_back(std::move(*message));
    appended = s.mail->append(*name, std::move(messages));
    if (appended) removed = s.view->remove({old_uid});
  };
  co_await s.blocking(work);
  if (!appended) {
    if (appended.error().kind == storage::ErrorKind::not_found) co_return no("[TRYCREATE] No such mailbox");
    co_return storage_error(s, appended.error());
  }
  std::string ready = "* OK [APPENDUID " + std::to_string(appended->uidvalidity) + ' ' +
                      std::to_string(appended->uids.front()) + "] Replacement message ready\r\n";
  note_own_messages(s, *name, appended->uids);
  co_await s.send(ready);
  if (!removed) co_return storage_error(s, removed.error());
  co_await announce(s, true);
  co_return ok(r.uid ? "UID REPLACE completed" : "REPLACE completed");
}

}  // namespace roost::imap::commands

// CREATE (with RFC 6154 USE), DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE
// (RFC 9051 §6.3.4-6.3.8): each one storage call on a checked name.
#include "../notify.hpp"
#include "commands.hpp"

namespace roost::imap::commands {
namespace {

constexpr storage::SpecialUse uses[] = {storage::SpecialUse::drafts, storage::SpecialUse::sent,
                                        storage::SpecialUse::trash,  storage::SpecialUse::junk,
                                        storage::SpecialUse::archive, storage::SpecialUse::all,
                                        storage::SpecialUse::flagged};

std::optional<storage::SpecialUse> use_from(std::string_view attribute) {
  for (auto use : uses) {
    if (ascii_iequals(storage::special_use_attribute(use), attribute)) return use;
  }
  return std::nullopt;
}

Reply bad_name() { return no("[CANNOT] Invalid mailbox name"); }

// LIST's wildcards cannot name a folder whose name holds them (RFC 9051
// §6.3.9): such a folder could never be listed alone, so none is made.
bool holds_wildcard(std::string_view name) { return name.find_first_of("%*") != std::string_view::npos; }

// Runs one storage call returning Result<void> on the blocking pool and
// answers `done_text` or the error.
template <class Call>
asio::awaitable<Reply> one_call(ImapSession& s, Call& call, const char* done_text) {
  storage::Result<void> done;
  auto work = [&]() { done = call(); };
  co_await s.blocking(work);
  if (!done) co_return storage_error(s, done.error());
  co_return ok(done_text);
}

}  // namespace

asio::awaitable<Reply> create(ImapSession& s, const Request& r) {
  const auto& c = std::get<Create>(r.command);
  std::string wire = c.mailbox;
  // A trailing separator declares the intent to create superiors (RFC 9051 §6.3.4).
  if (wire.size() > 1 && wire.back() == '/') wire.pop_back();
  auto name = s.mailbox_from_wire(wire);
  if (!name || holds_wildcard(*name)) co_return bad_name();
  storage::SpecialUse use = storage::SpecialUse::none;
  if (c.uses.size() > 1) co_return no("[USEATTR] One special use per mailbox");
  if (!c.uses.empty()) {
    auto u = use_from(c.uses.front());
    if (!u) co_return no("[USEATTR] Unknown special use " + c.uses.front());
    use = *u;
  }
  // RFC 8474 §4.1: the new folder's MAILBOXID in the tagged OK.
  storage::Result<void> created;
  storage::Result<std::string> id;
  auto work = [&]() {
    created = s.mail->create(*name, use);
    if (created) id = s.mail->mailbox_id(*name);
  };
  co_await s.blocking(work);
  if (!created) co_return storage_error(s, created.error());
  note_own_list_change(s, {*name});
  // The folder exists either way; without its id the answer cannot name it.
  if (!id) co_return ok("CREATE completed");
  co_return ok("[MAILBOXID (" + *id + ")] CREATE completed");
}

asio::awaitable<Reply> remove(ImapSession& s, const Request& r) {
  auto name = s.mailbox_from_wire(std::get<Delete>(r.command).mailbox);
  if (!name) co_return bad_name();
  if (s.view && s.view->name() == *name) co_return no("[INUSE] Mailbox is selected; close it first");
  auto call = [&]() { return s.mail->remove(*name); };
  Reply reply = co_await one_call(s, call, "DELETE completed");
  if (reply.status == "OK") note_own_list_change(s, {*name});
  co_return reply;
}

asio::awaitable<Reply> rename(ImapSession& s, const Request& r) {
  const auto& rn = std::get<Rename>(r.command);
  auto from = s.mailbox_from_wire(rn.from);
  auto to = s.mailbox_from_wire(rn.to);
  if (!from || !to || holds_wildcard(*to)) co_return bad_name();
  auto call = [&]() { return s.mail->rename(*from, *to); };
  Reply reply = co_await one_call(s, call, "RENAME completed");
  if (reply.status == "OK") note_own_list_change(s, {*from, *to});
  co_return reply;
}

asio::awaitable<Reply> subscribe(ImapSession& s, const Request& r) {
  const auto& sub = std::get<Subscribe>(r.command);
  auto name = s.mailbox_from_wire(sub.mailbox);
  if (!name) co_return bad_name();
  auto call = [&]() { return s.mail->subscribe(*name, sub.subscribe); };
  Reply reply = co_await one_call(s, call, sub.subscribe ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
  if (reply.status == "OK") note_own_list_change(s, {*name});
  co_return reply;
}

}  // namespace roost::imap::commands

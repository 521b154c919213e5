// ESEARCH (RFC 7377 MULTISEARCH): one search program over the mailboxes that
// the IN filters choose (or the selected one), answered per mailbox with
// "* ESEARCH (TAG t MAILBOX m UIDVALIDITY v) UID ..." and always in UIDs.
// Mailboxes where nothing matched get no response. Sequence numbers and $
// mean something only in the selected mailbox: with other mailboxes in the
// search they are BAD, as SAVE, UPDATE and RELEVANCY are.
#include <algorithm>
#include <set>

#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

using Kind = MailboxFilter::Kind;

bool has(const std::optional<SearchReturns>& returns, SearchReturn option) {
  return returns && std::find(returns->options.begin(), returns->options.end(), option) != returns->options.end();
}

// The folders the filters name, in the order the folder list has them.
std::vector<std::string> chosen_folders(ImapSession& s, const std::vector<MailboxFilter>& filters,
                                        const std::vector<storage::FolderInfo>& folders) {
  std::set<std::string> wanted;
  auto below = [](const std::string& name, const std::string& root, bool one_level) {
    if (name == root) return true;
    if (!name.starts_with(root + '/')) return false;
    return !one_level || name.find('/', root.size() + 1) == std::string::npos;
  };
  for (const auto& filter : filters) {
    std::vector<std::string> roots;
    for (const auto& wire : filter.mailboxes)
      if (auto name = s.mailbox_from_wire(wire)) roots.push_back(*name);
    for (const auto& f : folders) {
      bool in = false;
      switch (filter.kind) {
        case Kind::selected:
        case Kind::selected_delayed: in = s.view && s.view->name() == f.name; break;
        case Kind::inboxes: in = f.name == "INBOX"; break;
        case Kind::personal: in = true; break;
        case Kind::subscribed: in = f.subscribed; break;
        case Kind::subtree:
        case Kind::subtree_one:
          in = std::any_of(roots.begin(), roots.end(),
                           [&](const std::string& root) { return below(f.name, root, filter.kind == Kind::subtree_one); });
          break;
        case Kind::mailboxes: in = std::find(roots.begin(), roots.end(), f.name) != roots.end(); break;
      }
      if (in) wanted.insert(f.name);
    }
  }
  std::vector<std::string> out;
  for (const auto& f : folders)
    if (wanted.contains(f.name)) out.push_back(f.name);
  return out;
}

struct FolderResult {
  std::string name;
  std::uint32_t uidvalidity = 0;
  std::vector<storage::Uid> found;
  std::optional<storage::Modseq> highest;
};

}  // namespace

asio::awaitable<Reply> multisearch(ImapSession& s, const Request& r) {
  const auto& m = std::get<MultiSearch>(r.command);
  const auto& sr = m.search;
  if (has(sr.returns, SearchReturn::save) || has(sr.returns, SearchReturn::update) ||
      has(sr.returns, SearchReturn::relevancy))
    co_return bad("[CLIENTBUG] SAVE, UPDATE and RELEVANCY are for SEARCH in the selected mailbox");
  if (s.utf8_accept && !sr.charset.empty()) co_return bad("No CHARSET after ENABLE UTF8=ACCEPT");
  if (auto refused = check_charset(sr.charset)) co_return *refused;
  if (m.sources.empty() && !s.view) co_return bad("[CLIENTBUG] ESEARCH without IN searches the selected mailbox; none is");
  const bool with_modseq = uses_modseq(sr.key);
  if (with_modseq) co_await s.enable_condstore();

  std::vector<FolderResult> results;
  std::optional<Reply> refusal;
  std::optional<storage::Error> failure;
  auto work = [&]() {
    std::vector<std::string> names;
    if (m.sources.empty()) {
      names.push_back(s.view->name());
    } else {
      auto folders = s.mail->list();
      if (!folders) {
        failure = folders.error();
        return;
      }
      names = chosen_folders(s, m.sources, *folders);
    }
    for (const auto& name : names) {
      const bool selected = s.view && s.view->name() == name;
      std::unique_ptr<storage::FolderView> opened;
      storage::FolderView* view = selected ? s.view.get() : nullptr;
      if (!selected) {
        auto o = s.mail->open(name, true);
        if (!o) continue;  // gone since the listing
        opened = std::move(*o);
        view = opened.get();
      }
      Reply bad_program;
      std::optional<index::SearchKey> key;
      if (selected) {
        key = index_key(s, sr.key, bad_program);
      } else {
        const SetResolver resolve = [&](const SequenceSet& set, bool uid)
            -> std::expected<std::vector<storage::Uid>, std::string> {
          if (!uid || set.saved)
            return std::unexpected("[CLIENTBUG] Message sequence numbers and $ name messages of the selected mailbox only");
          return *resolve_in(view->uids(), {}, set, true);
        };
        key = index_key_with(sr.key, resolve, {}, bad_program);
      }
      if (!key) {
        refusal = bad_program;
        return;
      }
      auto found = view->search(*key);
      if (!found) {
        failure = found.error();
        return;
      }
      FolderResult result{name, view->uidvalidity(), std::move(*found), std::nullopt};
      if (with_modseq && !result.found.empty()) {
        auto highest = highest_modseq_of(*view, result.found);
        if (!highest) {
          failure = highest.error();
          return;
        }
        result.highest = *highest;
      }
      results.push_back(std::move(result));
    }
  };
  co_await s.blocking(work);
  if (refusal) co_return *refusal;
  if (failure) co_return storage_error(s, *failure);

  Request as_uid;
  as_uid.tag = r.tag;
  as_uid.uid = true;
  std::string out;
  for (const auto& result : results) {
    if (result.found.empty()) continue;
    std::string correlator = " MAILBOX ";
    append_astring(correlator, s.mailbox_to_wire(result.name), s.utf8());
    correlator += " UIDVALIDITY " + std::to_string(result.uidvalidity);
    out += esearch(s, as_uid, sr.returns.value_or(SearchReturns{}), result.found, result.highest, correlator);
  }
  co_await s.send(out);
  co_return ok("ESEARCH completed");
}

}  // namespace roost::imap::commands

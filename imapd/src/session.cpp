#include "session.hpp"

#include <algorithm>

#include "commands/commands.hpp"
#include "notify.hpp"
#include "roost/core/log.hpp"
#include "roost/imapd/context_updates.hpp"
#include "roost/imapd/writer.hpp"
#include "roost/storage/mailbox_name.hpp"

namespace roost::imap {

namespace flag = index::flag;

namespace {

constexpr std::pair<std::uint32_t, std::string_view> system_flags[] = {
    {flag::answered, "\\Answered"}, {flag::flagged, "\\Flagged"}, {flag::deleted, "\\Deleted"},
    {flag::seen, "\\Seen"},         {flag::draft, "\\Draft"}};

}  // namespace

std::uint32_t system_flag(std::string_view name) {
  for (auto [bit, text] : system_flags)
    if (ascii_iequals(name, text)) return bit;
  return 0;
}

std::expected<storage::Flags, std::string> to_storage_flags(const std::vector<std::string>& names) {
  storage::Flags flags;
  for (const auto& name : names) {
    if (std::uint32_t bit = system_flag(name); bit != 0) {
      flags.system |= bit;
    } else if (!name.empty() && name[0] == '\\') {
      return std::unexpected(ascii_iequals(name, "\\Recent") ? std::string("\\Recent cannot be set")
                                                        : "Unknown system flag " + name);
    } else if (std::find(flags.keywords.begin(), flags.keywords.end(), name) == flags.keywords.end()) {
      flags.keywords.push_back(name);
    }
  }
  return flags;
}

std::string ImapSession::flag_list(std::uint32_t system, const std::vector<std::string>& keywords, bool recent) {
  std::string out = "(";
  auto add = [&](std::string_view f) {
    if (out.size() > 1) out += ' ';
    out += f;
  };
  for (auto [bit, text] : system_flags)
    if (system & bit) add(text);
  for (const auto& k : keywords) add(k);
  if (recent) add("\\Recent");
  out += ')';
  return out;
}

std::string ImapSession::flags_update(const std::vector<std::string>& keywords, bool always) {
  if (!always && keywords == known_keywords) return {};
  known_keywords = keywords;
  std::string out = "* FLAGS " + flag_list(kSystemFlags, known_keywords, false) + "\r\n";
  if (view && view->read_only()) return out + "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n";
  std::string permanent = flag_list(kSystemFlags, known_keywords, false);
  // New keywords may be created while the folder has room for them.
  if (known_keywords.size() < index::kMaxKeywords) permanent.insert(permanent.size() - 1, " \\*");
  return out + "* OK [PERMANENTFLAGS " + permanent + "] Flags permitted\r\n";
}

asio::awaitable<void> ImapSession::send(std::string_view bytes) {
  // (Kept in this shape: with an early co_return before an awaited condition
  // g++ 12 compiled this function into a trap.)
  if (!lost) {
    const bool sent = co_await conn().send_flowing(bytes, config().limits.write_timeout);
    lost = !sent;
  }
}

void ImapSession::tagged(std::string_view tag, std::string_view status, std::string_view text) {
  std::string line(tag);
  line += ' ';
  line += status;
  line += ' ';
  line += text;
  line += "\r\n";
  if (!conn().send(line)) lost = true;
}

Reply storage_error(ImapSession& session, const storage::Error& error) {
  using storage::ErrorKind;
  std::string text;
  switch (error.kind) {
    case ErrorKind::not_found: text = "[NONEXISTENT] No such mailbox"; break;
    case ErrorKind::exists: text = "[ALREADYEXISTS] Mailbox exists already"; break;
    case ErrorKind::bad_name: text = "[CANNOT] Invalid mailbox name"; break;
    case ErrorKind::not_possible: text = "[CANNOT] That cannot be done to this mailbox"; break;
    case ErrorKind::has_children: text = "[CANNOT] Mailbox has children, delete them first"; break;
    case ErrorKind::over_quota: text = "[OVERQUOTA] Quota exceeded"; break;
    case ErrorKind::too_big: text = "[TOOBIG] Message too large"; break;
    case ErrorKind::limit: text = "[LIMIT] Too many keywords in this mailbox"; break;
    case ErrorKind::expunged: text = "[EXPUNGEISSUED] Some of the messages have been expunged"; break;
    case ErrorKind::temporary: text = "[UNAVAILABLE] Temporary failure, try again later"; break;
    case ErrorKind::internal:
      text = "[SERVERBUG] Internal error, session " + session.net.id_text;
      break;
  }
  if (error.kind == ErrorKind::internal || error.kind == ErrorKind::temporary) {
    log::warning(session.net.log_context(), "storage_error",
                 {{"kind", std::string(storage::describe(error.kind))}, {"detail", error.detail}});
  }
  return no(text);
}

void ImapSession::deselect() {
  if (notify) {
    notify->selected_watch.reset();
    notify->selected_dirty = false;
    notify->own_new.clear();
  }
  view.reset();
  saved_result.clear();
  update_contexts.clear();
}

asio::awaitable<void> ImapSession::announce_changes(bool allow_expunges) {
  if (!view || lost) co_return;
  storage::Result<storage::ViewUpdate> update;
  storage::Result<std::vector<storage::MessageInfo>> changed;
  std::vector<std::string> keywords;
  // RFC 5267 §4.3: the update contexts' results now, when anything changed.
  std::vector<storage::Uid> old_uids;
  std::vector<std::optional<std::vector<storage::Uid>>> fresh;
  auto work = [&]() {
    if (!update_contexts.empty()) old_uids = view->uids();
    update = view->refresh(allow_expunges);
    if (update && !update->flags_changed.empty()) changed = view->messages(update->flags_changed);
    keywords = view->keywords();
    if (!update || update_contexts.empty() ||
        (update->expunged.empty() && !update->new_messages && update->flags_changed.empty()))
      return;
    const auto& present = view->uids();
    for (const auto& context : update_contexts) {
      auto found = context.sort ? view->sort(*context.sort, context.key) : view->search(context.key);
      if (!found) {
        fresh.emplace_back();
        continue;
      }
      // Only what this session has been told exists.
      std::erase_if(*found, [&](storage::Uid uid) { return !std::binary_search(present.begin(), present.end(), uid); });
      fresh.emplace_back(std::move(*found));
    }
  };
  co_await blocking(work);
  if (!update) {
    auto kind = update.error().kind;
    if (kind == storage::ErrorKind::not_found || kind == storage::ErrorKind::not_possible) {
      // Deleted, renamed or given a new UIDVALIDITY by someone else: the
      // session's sequence numbers and UIDs mean nothing any more.
      co_await send("* BYE [UNAVAILABLE] The selected mailbox was deleted, renamed or replaced\r\n");
      if (!lost) co_await conn().flush(config().limits.write_timeout);
      lost = true;
      co_return;
    }
    log::warning(net.log_context(), "refresh_failed", {{"detail", update.error().detail}});
    co_return;
  }
  std::string out, additions;
  // RFC 5465 §7: the FETCH asked for new messages that join a result, after
  // the EXISTS and before the ADDTO; none for messages that joined by a flag change.
  std::vector<std::pair<std::vector<storage::Uid>, std::vector<FetchItem>>> joined;
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    if (!fresh[i]) continue;
    auto& context = update_contexts[i];
    const auto lines = context_lines(ContextChange{context.tag, context.uid, context.sort.has_value(), context.results,
                                                   *fresh[i], old_uids, view->uids()});
    out += lines.remove;
    additions += lines.add;
    if (!context.fetch.empty()) {
      std::vector<storage::Uid> arrived;
      for (auto uid : *fresh[i])
        if (!std::binary_search(old_uids.begin(), old_uids.end(), uid)) arrived.push_back(uid);
      std::sort(arrived.begin(), arrived.end());
      if (!arrived.empty()) joined.emplace_back(std::move(arrived), context.fetch);
    }
    context.results = std::move(*fresh[i]);
  }
  out += flags_update(keywords);
  if (qresync) {
    if (!update->vanished.empty()) out += "* VANISHED " + compact_set(update->vanished) + "\r\n";
  } else {
    for (auto seq : update->expunged) out += "* " + std::to_string(seq) + " EXPUNGE\r\n";
  }
  if (update->new_messages) {
    out += "* " + std::to_string(update->exists) + " EXISTS\r\n";
    if (!rev2) out += "* " + std::to_string(view->recent_count()) + " RECENT\r\n";
  }
  std::vector<storage::Uid> skip = std::move(flags_reported);
  flags_reported.clear();
  std::sort(skip.begin(), skip.end());
  if (changed) {
    for (const auto& m : *changed) {
      auto seq = view->sequence_of(m.uid);
      if (!seq || std::binary_search(skip.begin(), skip.end(), m.uid)) continue;
      // RFC 9051 §7.5.2: unsolicited FETCH responses carry the UID.
      out += "* " + std::to_string(*seq) + " FETCH (UID " + std::to_string(m.uid) + " FLAGS " +
             flag_list(m.system_flags, m.keywords, m.recent && !rev2) + modseq_item(m) + ")\r\n";
    }
  }
  if (joined.empty()) {
    out += additions;
    co_await send(out);
    co_return;
  }
  co_await send(out);
  for (auto& [uids, items] : joined) {
    Fetch fetch;
    for (auto uid : uids) fetch.set.ranges.push_back(SeqRange{uid, uid});
    fetch.items = items;
    Request request{"*", true, Command(std::move(fetch))};
    Reply unused = co_await commands::fetch(*this, request);
    (void)unused;
  }
  co_await send(additions);
}

asio::awaitable<void> ImapSession::enable_condstore() {
  if (condstore) co_return;
  condstore = true;
  if (!view) co_return;
  const std::string line = "* OK [HIGHESTMODSEQ " + std::to_string(view->highest_modseq()) + "] Highest\r\n";
  co_await send(line);
}

std::string ImapSession::modseq_item(const storage::MessageInfo& info) const {
  return condstore ? " MODSEQ (" + std::to_string(info.modseq) + ")" : std::string();
}

std::optional<std::vector<storage::Uid>> ImapSession::resolve(const SequenceSet& set, bool uid) const {
  return resolve_in(view->uids(), saved_result, set, uid);
}

std::optional<std::vector<storage::Uid>> resolve_in(const std::vector<storage::Uid>& uids,
                                                    const std::vector<storage::Uid>& saved_result,
                                                    const SequenceSet& set, bool uid) {
  std::vector<storage::Uid> out;
  if (set.saved) {
    for (auto u : saved_result)
      if (std::binary_search(uids.begin(), uids.end(), u)) out.push_back(u);
    return out;
  }
  // Each range becomes positions [from, to) in `uids`; the positions are
  // merged before anything is copied, so that a set naming the folder many
  // times over (16,000 copies of 1:*) costs no more than the folder.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  spans.reserve(set.ranges.size());
  for (const auto& range : set.ranges) {
    if (uid) {
      if (uids.empty()) continue;
      std::uint64_t a = range.first == kStar ? uids.back() : range.first;
      std::uint64_t b = range.last == kStar ? uids.back() : range.last;
      if (a > b) std::swap(a, b);
      auto from = std::lower_bound(uids.begin(), uids.end(), a);
      auto to = std::upper_bound(uids.begin(), uids.end(), b);
      if (from < to) spans.emplace_back(from - uids.begin(), to - uids.begin());
    } else {
      const std::uint64_t size = uids.size();
      std::uint64_t a = range.first == kStar ? size : range.first;
      std::uint64_t b = range.last == kStar ? size : range.last;
      if (a > b) std::swap(a, b);
      if (a == 0 || b > size) return std::nullopt;
      spans.emplace_back(a - 1, b);
    }
  }
  std::sort(spans.begin(), spans.end());
  std::size_t covered = 0;  // positions below this are in `out` already
  for (auto [from, to] : spans) {
    from = std::max(from, covered);
    if (from >= to) continue;
    out.insert(out.end(), uids.begin() + static_cast<std::ptrdiff_t>(from), uids.begin() + static_cast<std::ptrdiff_t>(to));
    covered = to;
  }
  return out;
}

std::optional<std::string> ImapSession::mailbox_from_wire(const std::string& wire) const {
  std::string utf8 = wire;
  if (!this->utf8()) {
    auto decoded = storage::decode_mutf7(wire);
    if (!decoded) return std::nullopt;
    utf8 = std::move(*decoded);
  }
  auto canonical = storage::canonical_name(utf8);
  if (!canonical) return std::nullopt;
  return *canonical;
}

std::string ImapSession::mailbox_to_wire(std::string_view canonical) const {
  return utf8() ? std::string(canonical) : storage::encode_mutf7(canonical);
}

}  // namespace roost::imap

#include "notify.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/query.hpp>

#include <algorithm>
#include <functional>
#include <set>

#include "commands/commands.hpp"
#include "roost/imapd/writer.hpp"
#include "session.hpp"

namespace roost::imap {
namespace {

namespace ev = notify_event;
using Kind = MailboxFilter::Kind;
using Snapshot = std::vector<std::pair<std::string, std::size_t>>;

constexpr unsigned kMessageEvents = ev::message_new | ev::message_expunge | ev::flag_change;

unsigned event_bits(const std::vector<NotifyEvent>& events) {
  unsigned bits = 0;
  for (auto e : events) {
    switch (e) {
      case NotifyEvent::message_new: bits |= ev::message_new; break;
      case NotifyEvent::message_expunge: bits |= ev::message_expunge; break;
      case NotifyEvent::flag_change: bits |= ev::flag_change; break;
      case NotifyEvent::mailbox_name: bits |= ev::mailbox_name; break;
      case NotifyEvent::subscription_change: bits |= ev::subscription_change; break;
      case NotifyEvent::mailbox_metadata_change: bits |= ev::mailbox_metadata; break;
      case NotifyEvent::server_metadata_change: bits |= ev::server_metadata; break;
      case NotifyEvent::annotation_change: break;  // refused before (BADEVENT)
    }
  }
  return bits;
}

// The events the groups ask for on mailbox `name` (§6.2-6.6).
unsigned events_for(const NotifyState& n, const std::string& name, bool subscribed) {
  unsigned bits = 0;
  for (const auto& g : n.groups) {
    bool in = false;
    switch (g.kind) {
      case Kind::inboxes: in = name == "INBOX"; break;  // the only folder mail is delivered to by default
      case Kind::personal: in = true; break;
      case Kind::subscribed: in = subscribed; break;
      case Kind::subtree:
        in = std::any_of(g.names.begin(), g.names.end(), [&](const std::string& root) {
          return name == root || (name.size() > root.size() && name.starts_with(root) && name[root.size()] == '/');
        });
        break;
      case Kind::mailboxes: in = std::find(g.names.begin(), g.names.end(), name) != g.names.end(); break;
      case Kind::selected:
      case Kind::selected_delayed:
      case Kind::subtree_one: break;
    }
    if (in) bits |= g.events;
  }
  return bits;
}

unsigned user_events(const NotifyState& n) {
  unsigned bits = 0;
  for (const auto& g : n.groups) bits |= g.events & ev::server_metadata;
  return bits;
}

Snapshot snapshot_of(const std::vector<storage::Annotation>& entries) {
  Snapshot out;
  for (const auto& a : entries) out.emplace_back(a.name, std::hash<std::string>{}(a.value));
  std::sort(out.begin(), out.end());
  return out;
}

// "* METADATA mailbox entry ..." for the entries that differ (RFC 5464
// §4.4.2; a removed entry is always named, RFC 5465 §5.6); "" when none do.
std::string metadata_changes(const ImapSession& s, std::string_view wire_mailbox, const Snapshot& before,
                             const Snapshot& after) {
  std::vector<std::string> changed;
  std::size_t i = 0, j = 0;
  while (i < before.size() || j < after.size()) {
    if (j == after.size() || (i < before.size() && before[i].first < after[j].first)) {
      changed.push_back(before[i++].first);
    } else if (i == before.size() || after[j].first < before[i].first) {
      changed.push_back(after[j++].first);
    } else {
      if (before[i].second != after[j].second) changed.push_back(after[j].first);
      ++i;
      ++j;
    }
  }
  if (changed.empty()) return {};
  std::string out = "* METADATA ";
  append_astring(out, wire_mailbox, s.utf8());
  for (const auto& entry : changed) {
    out += ' ';
    append_astring(out, entry, false);
  }
  out += "\r\n";
  return out;
}

// The STATUS a change of another mailbox calls for (§5.1-5.3), or "".
std::string status_change(ImapSession& s, const std::string& name, unsigned events, const storage::FolderStatus& was,
                          const storage::FolderStatus& now) {
  const bool counts = was.messages != now.messages || was.uidnext != now.uidnext;
  const bool validity = was.uidvalidity != now.uidvalidity;
  const bool modseq = was.highest_modseq != now.highest_modseq;
  const bool unseen = was.unseen != now.unseen;
  const bool messages = (events & (ev::message_new | ev::message_expunge)) != 0;
  const bool flags = (events & ev::flag_change) != 0;
  std::set<StatusItem> items;
  if (messages && (counts || validity)) items.insert({StatusItem::messages, StatusItem::uidnext});
  if (validity) items.insert(StatusItem::uidvalidity);
  if (messages && counts && s.condstore) items.insert(StatusItem::highestmodseq);
  if (flags && unseen) items.insert(StatusItem::unseen);
  if (flags && modseq && s.condstore) items.insert({StatusItem::highestmodseq, StatusItem::uidvalidity});
  if (items.empty()) return {};
  commands::FolderReport report{now, {}};
  return commands::status_line(s, name, report, std::vector<StatusItem>(items.begin(), items.end()));
}

// "* LIST (attributes) "/" name" as NOTIFY reports a mailbox (§5.4-5.5):
// attributes computed as LIST computes them, \Subscribed included.
std::string list_line(const ImapSession& s, const storage::FolderInfo& f, std::string_view old_name = {}) {
  std::vector<std::string> attributes{f.has_children ? "\\HasChildren" : "\\HasNoChildren"};
  if (f.use != storage::SpecialUse::none) attributes.emplace_back(storage::special_use_attribute(f.use));
  if (f.subscribed) attributes.emplace_back("\\Subscribed");
  std::string out = "* LIST ";
  append_list(out, attributes);
  out += " \"/\" ";
  append_astring(out, s.mailbox_to_wire(f.name), s.utf8());
  if (!old_name.empty()) {
    out += " (\"OLDNAME\" (";
    append_astring(out, s.mailbox_to_wire(old_name), s.utf8());
    out += "))";
  }
  out += "\r\n";
  return out;
}

std::string nonexistent_line(const ImapSession& s, std::string_view name) {
  std::string out = "* LIST (\\NonExistent) \"/\" ";
  append_astring(out, s.mailbox_to_wire(name), s.utf8());
  out += "\r\n";
  return out;
}

std::string parent_of(const std::string& name) {
  auto slash = name.rfind('/');
  return slash == std::string::npos ? std::string() : name.substr(0, slash);
}

// The list's changes since `n.listed` as LIST responses (§5.4-5.5), leaving
// out names in `quiet` (this session's own CREATE, DELETE, RENAME and
// SUBSCRIBE). Blocking.
std::string list_changes(const ImapSession& s, const NotifyState& n, const std::map<std::string, NotifyState::Listed>& now,
                         const std::set<std::string>& quiet) {
  std::vector<std::string> removed, added;
  for (const auto& [name, entry] : n.listed)
    if (!now.contains(name)) removed.push_back(name);
  for (const auto& [name, entry] : now)
    if (!n.listed.contains(name)) added.push_back(name);
  // A RENAME keeps the MAILBOXID (RFC 8474 §4.1): a name gone and a name
  // new with the same one are one mailbox renamed.
  std::vector<std::pair<std::string, std::string>> renamed;
  for (const auto& from : removed) {
    const std::string& id = n.listed.at(from).mailbox_id;
    if (id.empty()) continue;
    auto to = std::find_if(added.begin(), added.end(), [&](const std::string& a) { return now.at(a).mailbox_id == id; });
    if (to != added.end()) renamed.emplace_back(from, *to);
  }
  auto renamed_from = [&](const std::string& name) {
    return std::any_of(renamed.begin(), renamed.end(), [&](const auto& r) { return r.first == name; });
  };
  auto renamed_to = [&](const std::string& name) {
    return std::any_of(renamed.begin(), renamed.end(), [&](const auto& r) { return r.second == name; });
  };
  auto covered = [&](const std::string& name, unsigned bit) {
    bool subscribed = false;
    if (auto it = n.listed.find(name); it != n.listed.end()) subscribed = it->second.info.subscribed;
    if (auto it = now.find(name); it != now.end()) subscribed = subscribed || it->second.info.subscribed;
    return (events_for(n, name, subscribed) & bit) != 0 && !quiet.contains(name);
  };
  std::string out;
  std::set<std::string> reported;
  auto report_parent = [&](const std::string& name) {
    const std::string parent = parent_of(name);
    auto it = now.find(parent);
    if (parent.empty() || it == now.end() || quiet.contains(name) || !covered(parent, ev::mailbox_name) ||
        !reported.insert(parent).second)
      return;
    out += list_line(s, it->second.info);
  };
  for (const auto& [from, to] : renamed) {
    // Children move with their parent and are not reported (§5.4).
    const bool with_parent = std::any_of(renamed.begin(), renamed.end(), [&](const auto& r) {
      return from.size() > r.first.size() && from.starts_with(r.first + '/') && to == r.second + from.substr(r.first.size());
    });
    if (with_parent || quiet.contains(from) || quiet.contains(to)) continue;
    if (covered(to, ev::mailbox_name) || covered(from, ev::mailbox_name)) out += list_line(s, now.at(to).info, from);
  }
  for (const auto& name : removed) {
    if (renamed_from(name) || !covered(name, ev::mailbox_name)) continue;
    out += nonexistent_line(s, name);
    reported.insert(name);
    report_parent(name);
  }
  for (const auto& name : added) {
    if (renamed_to(name) || !covered(name, ev::mailbox_name)) continue;
    if (reported.insert(name).second) out += list_line(s, now.at(name).info);
    report_parent(name);
  }
  for (const auto& [name, entry] : now) {
    auto before = n.listed.find(name);
    if (before == n.listed.end() || before->second.info.subscribed == entry.info.subscribed) continue;
    if (covered(name, ev::subscription_change) && !reported.contains(name)) out += list_line(s, entry.info);
  }
  return out;
}

// The folder list, with MAILBOXIDs when some group asks for MailboxName
// (those of names already known reused). Blocking.
storage::Result<std::map<std::string, NotifyState::Listed>> current_list(ImapSession& s, const NotifyState& n) {
  auto folders = s.mail->list();
  if (!folders) return std::unexpected(folders.error());
  const bool with_ids = std::any_of(n.groups.begin(), n.groups.end(),
                                    [](const NotifyState::Group& g) { return (g.events & ev::mailbox_name) != 0; });
  std::map<std::string, NotifyState::Listed> out;
  for (auto& f : *folders) {
    NotifyState::Listed entry{f, {}};
    if (auto it = n.listed.find(f.name); it != n.listed.end()) entry.mailbox_id = it->second.mailbox_id;
    // Only MailboxName needs them: a folder never opened gets its UID list
    // (and so its id) made on first asking.
    if (entry.mailbox_id.empty() && with_ids) {
      auto id = s.mail->mailbox_id(f.name);
      if (id) entry.mailbox_id = std::move(*id);
    }
    out.emplace(f.name, std::move(entry));
  }
  return out;
}

// A mailbox to watch, filled in on the blocking pool: its paths, and what
// the client is assumed to know now.
std::unique_ptr<NotifyState::Watched> prepare(ImapSession& s, const std::string& name, unsigned events) {
  auto w = std::make_unique<NotifyState::Watched>();
  w->name = name;
  w->events = events;
  auto paths = s.mail->watch_paths(name);
  if (!paths) return nullptr;  // gone since the listing
  w->paths = std::move(*paths);
  if (events & kMessageEvents) {
    auto st = s.mail->status(name);
    if (st) w->last = *st;
  }
  if (events & ev::mailbox_metadata) {
    auto entries = s.mail->annotations(name);
    if (entries) w->annotations = snapshot_of(*entries);
  }
  return w;
}

boost::asio::io_context& loop_of(ImapSession& s) {
  return static_cast<boost::asio::io_context&>(
      boost::asio::query(s.conn().executor(), boost::asio::execution::context));
}

void start_watch(ImapSession& s, NotifyState::Watched& w) {
  Connection* conn = &s.conn();
  NotifyState::Watched* watched = &w;
  w.watch = storage::ChangeWatcher::of(loop_of(s)).subscribe(w.paths, [watched, conn](std::size_t i, std::string_view e) {
    switch (storage::watched_change(i, e)) {
      case storage::WatchedChange::messages:
        if (watched->events & kMessageEvents) {
          watched->messages_dirty = true;
          conn->interrupt();
        }
        break;
      case storage::WatchedChange::annotations:
        if (watched->events & ev::mailbox_metadata) {
          watched->annotations_dirty = true;
          conn->interrupt();
        }
        break;
      default: break;
    }
  });
  w.paths = {};  // watched now; a session may watch a thousand folders
}

void start_root_watch(ImapSession& s, NotifyState& n, const std::vector<std::filesystem::path>& paths) {
  Connection* conn = &s.conn();
  NotifyState* state = &n;
  const bool server = (user_events(n) & ev::server_metadata) != 0;
  n.root_watch = storage::ChangeWatcher::of(loop_of(s)).subscribe(paths, [state, conn, server](std::size_t i, std::string_view e) {
    if (i != 0) return;  // INBOX's new/ and cur/: its own watch reports them
    switch (storage::watched_change(i, e)) {
      case storage::WatchedChange::folders:
      case storage::WatchedChange::subscriptions:
        state->list_dirty = true;
        conn->interrupt();
        break;
      case storage::WatchedChange::server_annotations:
        if (server) {
          state->server_annotations_dirty = true;
          conn->interrupt();
        }
        break;
      default: break;
    }
  });
}

bool is_selected(const ImapSession& s, const std::string& name) { return s.view && s.view->name() == name; }

}  // namespace

bool NotifyState::pending() const {
  return selected_dirty || list_dirty || server_annotations_dirty ||
         std::any_of(mailboxes.begin(), mailboxes.end(),
                     [](const auto& w) { return w->messages_dirty || w->annotations_dirty; });
}

asio::awaitable<std::optional<std::string>> start_notify(ImapSession& s, const Notify& request) {
  auto n = std::make_unique<NotifyState>();
  for (const auto& g : request.groups) {
    const unsigned bits = event_bits(g.events);
    if (g.filter.kind == Kind::selected || g.filter.kind == Kind::selected_delayed) {
      n->selected_events = bits;
      n->selected_delayed = g.filter.kind == Kind::selected_delayed;
      n->new_message_items = g.new_message_items;
      continue;
    }
    NotifyState::Group group{g.filter.kind, {}, bits};
    // A name that is not a valid mailbox name names no mailbox (§3.1).
    for (const auto& wire : g.filter.mailboxes)
      if (auto name = s.mailbox_from_wire(wire)) group.names.push_back(std::move(*name));
    n->groups.push_back(std::move(group));
  }

  std::optional<std::string> refusal;
  std::optional<storage::Error> failure;
  std::string out;
  std::vector<std::filesystem::path> root_paths;
  const std::size_t limit = s.config().imap.notify_max_mailboxes;
  auto work = [&]() {
    if (n->groups.empty()) return;
    auto listed = current_list(s, *n);
    if (!listed) {
      failure = listed.error();
      return;
    }
    n->listed = std::move(*listed);
    for (const auto& [name, entry] : n->listed) {
      const unsigned events = events_for(*n, name, entry.info.subscribed);
      if ((events & (kMessageEvents | ev::mailbox_metadata)) == 0) continue;
      if (n->mailboxes.size() == limit) {
        refusal = "[NOTIFICATIONOVERFLOW] More than " + std::to_string(limit) + " mailboxes to watch";
        return;
      }
      auto w = prepare(s, name, events);
      if (!w) continue;
      // §3.1: with STATUS, what each message event needs to start from.
      if (request.status && w->last && !is_selected(s, name)) {
        std::vector<StatusItem> items;
        if (events & ev::message_new) items = {StatusItem::messages, StatusItem::uidnext, StatusItem::uidvalidity};
        else if (events & ev::message_expunge) items = {StatusItem::messages};
        if (events & ev::flag_change) {
          if (items.size() < 3) items.push_back(StatusItem::uidvalidity);
          items.push_back(StatusItem::highestmodseq);
        }
        if (!items.empty()) out += commands::status_line(s, name, commands::FolderReport{*w->last, {}}, items);
      }
      n->mailboxes.push_back(std::move(w));
    }
    if (user_events(*n) & ev::server_metadata) {
      auto entries = s.mail->annotations("");
      if (entries) n->server_annotations = snapshot_of(*entries);
    }
    auto paths = s.mail->watch_paths("INBOX");
    if (paths) root_paths = std::move(*paths);
  };
  co_await s.blocking(work);
  if (failure) {
    Reply error = storage_error(s, *failure);
    co_return error.text;
  }
  if (refusal) co_return refusal;
  for (auto& w : n->mailboxes) start_watch(s, *w);
  if (!root_paths.empty()) start_root_watch(s, *n, root_paths);
  s.notify = std::move(n);
  watch_selected(s);
  co_await s.send(out);
  co_return std::nullopt;
}

void watch_selected(ImapSession& s) {
  if (!s.notify || !s.view || s.notify->selected_events == 0 || s.notify->selected_watch) return;
  NotifyState* state = s.notify.get();
  Connection* conn = &s.conn();
  s.notify->selected_watch = storage::ChangeWatcher::of(loop_of(s)).subscribe(*s.view, [state, conn] {
    state->selected_dirty = true;
    conn->interrupt();
  });
  // What changed between opening the view and watching it.
  s.notify->selected_dirty = true;
}

asio::awaitable<void> announce(ImapSession& s, bool allow_expunges) {
  if (!s.view) co_return;
  const storage::Uid known = s.view->uids().empty() ? 0 : s.view->uids().back();
  co_await s.announce_changes(allow_expunges);
  if (s.lost || !s.notify || !s.view || s.notify->new_message_items.empty()) co_return;
  auto& own = s.notify->own_new;
  std::sort(own.begin(), own.end());
  const auto& uids = s.view->uids();
  std::vector<storage::Uid> fresh;
  for (auto it = std::upper_bound(uids.begin(), uids.end(), known); it != uids.end(); ++it)
    if (!std::binary_search(own.begin(), own.end(), *it)) fresh.push_back(*it);
  // Those of this connection's own that the view now holds are done with.
  const storage::Uid newest = uids.empty() ? 0 : uids.back();
  std::erase_if(own, [&](storage::Uid u) { return u <= newest; });
  if (fresh.empty()) co_return;
  // MessageNew's FETCH (§5.2), after the EXISTS and any ESEARCH ADDTO.
  Fetch fetch;
  for (auto uid : fresh) fetch.set.ranges.push_back(SeqRange{uid, uid});
  fetch.items = s.notify->new_message_items;
  Request request{"*", true, Command(std::move(fetch))};
  Reply unused = co_await commands::fetch(s, request);
  (void)unused;
}

void note_own_messages(ImapSession& s, std::string_view folder, const std::vector<storage::Uid>& uids) {
  if (s.notify && s.view && s.view->name() == folder)
    s.notify->own_new.insert(s.notify->own_new.end(), uids.begin(), uids.end());
}

void note_own_list_change(ImapSession& s, std::vector<std::string> names) {
  if (!s.notify) return;
  s.notify->quiet.insert(names.begin(), names.end());
  s.notify->list_dirty = true;
}

asio::awaitable<void> report_notifications(ImapSession& s, bool in_idle) {
  if (!s.notify || s.lost) co_return;
  NotifyState& n = *s.notify;
  watch_selected(s);
  std::string out;

  if (n.list_dirty) {
    n.list_dirty = false;
    std::set<std::string> quiet = std::move(n.quiet);
    n.quiet.clear();
    std::vector<std::pair<std::string, unsigned>> wanted;  // the mailboxes to watch now
    std::vector<std::unique_ptr<NotifyState::Watched>> added;
    std::optional<storage::Error> failure;
    const std::size_t limit = s.config().imap.notify_max_mailboxes;
    bool overflow = false;
    auto work = [&]() {
      auto now = current_list(s, n);
      if (!now) {
        failure = now.error();
        return;
      }
      out += list_changes(s, n, *now, quiet);
      n.listed = std::move(*now);
      for (const auto& [name, entry] : n.listed) {
        const unsigned events = events_for(n, name, entry.info.subscribed);
        if ((events & (kMessageEvents | ev::mailbox_metadata)) == 0) continue;
        wanted.emplace_back(name, events);
        const bool watched = std::any_of(n.mailboxes.begin(), n.mailboxes.end(),
                                         [&](const auto& w) { return w->name == name && w->events == events; });
        if (wanted.size() > limit) {
          overflow = true;
          return;
        }
        if (!watched)
          if (auto w = prepare(s, name, events)) added.push_back(std::move(w));
      }
    };
    co_await s.blocking(work);
    if (failure) {
      n.list_dirty = true;  // try again at the next change
    } else if (overflow) {
      // §5.8: as if NOTIFY NONE had come.
      s.notify.reset();
      co_await s.send(out);
      co_await s.send("* OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch; NOTIFY NONE is in effect\r\n");
      co_return;
    } else {
      std::erase_if(n.mailboxes, [&](const auto& w) {
        return std::none_of(wanted.begin(), wanted.end(),
                            [&](const auto& p) { return p.first == w->name && p.second == w->events; });
      });
      for (auto& w : added) {
        start_watch(s, *w);
        n.mailboxes.push_back(std::move(w));
      }
    }
  }

  // What the watches marked, taken on this thread (they mark on it too).
  std::vector<NotifyState::Watched*> dirty;
  std::vector<std::pair<bool, bool>> what;  // messages, annotations
  for (auto& w : n.mailboxes) {
    if (!w->messages_dirty && !w->annotations_dirty) continue;
    dirty.push_back(w.get());
    what.emplace_back(w->messages_dirty, w->annotations_dirty);
    w->messages_dirty = w->annotations_dirty = false;
  }
  const bool server_dirty = n.server_annotations_dirty;
  n.server_annotations_dirty = false;
  if (!dirty.empty() || server_dirty) {
    std::string selected_name = s.view ? s.view->name() : std::string();
    bool gone = false;
    auto work = [&]() {
      for (std::size_t i = 0; i < dirty.size(); ++i) {
        NotifyState::Watched& w = *dirty[i];
        if (what[i].first) {
          auto st = s.mail->status(w.name);
          if (!st) {
            gone = gone || st.error().kind == storage::ErrorKind::not_found;
          } else {
            // The selected mailbox's message events come from SELECTED (§3.1).
            if (w.last && w.name != selected_name) out += status_change(s, w.name, w.events, *w.last, *st);
            w.last = *st;
          }
        }
        if (what[i].second) {
          auto entries = s.mail->annotations(w.name);
          if (entries) {
            Snapshot now = snapshot_of(*entries);
            if (w.annotations) out += metadata_changes(s, s.mailbox_to_wire(w.name), *w.annotations, now);
            w.annotations = std::move(now);
          }
        }
      }
      if (server_dirty) {
        auto entries = s.mail->annotations("");
        if (entries) {
          Snapshot now = snapshot_of(*entries);
          if (n.server_annotations) out += metadata_changes(s, "", *n.server_annotations, now);
          n.server_annotations = std::move(now);
        }
      }
    };
    co_await s.blocking(work);
    if (gone) n.list_dirty = true;  // the listing drops it and says so
  }
  co_await s.send(out);

  if (n.selected_dirty && s.view && !s.lost) {
    n.selected_dirty = false;
    bool worth = true;
    if ((n.selected_events & ev::flag_change) == 0) {
      // Without FlagChange only new and expunged messages wake the client;
      // flag changes wait for its next command.
      storage::Result<storage::FolderStatus> st;
      auto work = [&]() { st = s.mail->status(s.view->name()); };
      co_await s.blocking(work);
      worth = !st || st->uidnext != s.view->uidnext() || st->messages != s.view->uids().size();
    }
    if (worth) co_await announce(s, in_idle || !n.selected_delayed);
  }
}

}  // namespace roost::imap

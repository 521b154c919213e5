// NOTIFY (RFC 5465): what a session asked to hear about between commands,
// the watches that learn of it, and the reports.
//
// The selected mailbox is watched as IDLE watches it; other mailboxes by
// their directories (User::watch_paths), compared with the STATUS counters
// and annotations last reported; the folder list and subscriptions by the
// user's root directory, compared with the list last seen. A watch only
// marks what changed and wakes the session's read (Connection::interrupt);
// the session reports when no command is running.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "roost/imapd/requests.hpp"
#include "roost/storage/storage.hpp"
#include "roost/storage/watch.hpp"

namespace roost::imap {

struct ImapSession;

// NotifyEvent as bits.
namespace notify_event {
inline constexpr unsigned message_new = 1, message_expunge = 2, flag_change = 4, mailbox_name = 8,
                          subscription_change = 16, mailbox_metadata = 32, server_metadata = 64;
}  // namespace notify_event

struct NotifyState {
  // SELECTED or SELECTED-DELAYED (§6.1).
  unsigned selected_events = 0;
  bool selected_delayed = false;
  std::vector<FetchItem> new_message_items;  // MessageNew (fetch-att ...)
  std::optional<storage::ChangeWatcher::Subscription> selected_watch;
  bool selected_dirty = false;

  // The other groups, mailbox names canonical.
  struct Group {
    MailboxFilter::Kind kind = MailboxFilter::Kind::personal;
    std::vector<std::string> names;
    unsigned events = 0;
  };
  std::vector<Group> groups;

  // A mailbox whose messages or annotations are watched, with what the
  // client was last told (or, without STATUS, what it is assumed to know).
  struct Watched {
    std::string name;
    unsigned events = 0;
    std::vector<std::filesystem::path> paths;  // until the watch is made
    std::optional<storage::FolderStatus> last;
    std::optional<std::vector<std::pair<std::string, std::size_t>>> annotations;  // entry, hash of value
    std::optional<storage::ChangeWatcher::Subscription> watch;
    bool messages_dirty = false;
    bool annotations_dirty = false;
  };
  std::vector<std::unique_ptr<Watched>> mailboxes;

  // The folder list as last seen (MailboxName, SubscriptionChange, and
  // which mailboxes the groups cover), and the server annotations.
  struct Listed {
    storage::FolderInfo info;
    std::string mailbox_id;  // to tell a RENAME from a DELETE and a CREATE
  };
  std::map<std::string, Listed> listed;
  std::optional<std::vector<std::pair<std::string, std::size_t>>> server_annotations;
  std::optional<storage::ChangeWatcher::Subscription> root_watch;
  bool list_dirty = false;
  bool server_annotations_dirty = false;

  // Messages this connection added to the selected mailbox (APPEND, COPY,
  // MOVE): no MessageNew FETCH for them (§5.2).
  std::vector<storage::Uid> own_new;
  // Mailboxes this connection created, deleted, renamed or (un)subscribed
  // since the list was last compared: not reported to it (§5).
  std::set<std::string> quiet;

  bool pending() const;
};

// NOTIFY SET: installs `request` (checked by the caller) as the session's
// NotifyState, sending the STATUS responses of §3.1 when asked; NO
// [NOTIFICATIONOVERFLOW] text when it would watch too many mailboxes.
boost::asio::awaitable<std::optional<std::string>> start_notify(ImapSession& s, const Notify& request);

// Watches the selected mailbox when NOTIFY asks for its events: after
// SELECT, before the session waits for the client.
void watch_selected(ImapSession& s);

// Reports what the watches marked: in IDLE (`in_idle`) or between commands.
// Expunges in the selected mailbox go out in IDLE, and between commands
// with SELECTED but not SELECTED-DELAYED (§6.1.2).
boost::asio::awaitable<void> report_notifications(ImapSession& s, bool in_idle);

// The selected folder's news (ImapSession::announce_changes) followed by
// the FETCH responses NOTIFY's MessageNew asks for.
boost::asio::awaitable<void> announce(ImapSession& s, bool allow_expunges);

// Mailboxes this connection's CREATE, DELETE, RENAME or (UN)SUBSCRIBE
// changed: MailboxName and SubscriptionChange leave them out.
void note_own_list_change(ImapSession& s, std::vector<std::string> names);

// Messages this connection just added to `folder` (APPEND, COPY, MOVE):
// when it is the selected one, MessageNew leaves them out.
void note_own_messages(ImapSession& s, std::string_view folder, const std::vector<storage::Uid>& uids);

}  // namespace roost::imap

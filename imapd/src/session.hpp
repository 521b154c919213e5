// One IMAP connection's state and the helpers every command uses: sending
// responses (with flow control for large ones), running storage work on the
// blocking pool, mapping storage errors to RFC 5530 response codes, and
// reporting what changed in the selected folder.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/ascii.hpp"
#include "roost/core/blocking.hpp"
#include "roost/core/server.hpp"
#include "roost/imapd/requests.hpp"
#include "roost/storage/storage.hpp"

namespace roost::imap {

enum class State : unsigned { not_authenticated = 1, authenticated = 2, selected = 4, logout = 8 };

// A SEARCH or SORT with RETURN (UPDATE) (RFC 5267 §4.3): its program (its
// sequence numbers resolved when it ran), its order, and its results as the
// client last heard them, in that order. ESEARCH ADDTO and REMOVEFROM keep
// the client's copy in step until CANCELUPDATE or the mailbox is closed.
struct UpdateContext {
  std::string tag;
  bool uid = false;  // updates in UIDs (UID SEARCH/SORT), else sequence numbers
  std::optional<std::vector<index::SortCriterion>> sort;  // absent: SEARCH, mailbox order
  index::SearchKey key;
  std::vector<storage::Uid> results;
  std::vector<FetchItem> fetch;  // RFC 5465 §7: FETCH of new messages that join the results
};

struct NotifyState;  // notify.hpp
struct IdleState;    // idle.hpp

struct ImapSession {
  Session& net;
  storage::Store& store;
  State state = State::not_authenticated;
  std::unique_ptr<storage::User> mail;
  std::unique_ptr<storage::FolderView> view;
  bool rev2 = false;        // ENABLE IMAP4rev2
  bool utf8_accept = false; // ENABLE UTF8=ACCEPT
  bool condstore = false;   // a CONDSTORE enabling command was seen (RFC 7162 §3.1)
  bool qresync = false;     // ENABLE QRESYNC: VANISHED instead of EXPUNGE (RFC 7162 §3.2.3)
  // Mailbox names and quoted strings in UTF-8 (RFC 9051 §5.1; RFC 6855)
  // rather than modified UTF-7 and literals.
  bool utf8() const { return rev2 || utf8_accept; }
  bool lost = false;        // the connection failed or the client stopped reading
  std::vector<storage::Uid> saved_result;  // SEARCHRES ($)
  std::vector<std::string> known_keywords; // the selected folder's, as last announced in FLAGS
  // UIDs whose new flags this session's STORE already reported (or was
  // told not to): announce_changes() skips them once.
  std::vector<storage::Uid> flags_reported;
  // RFC 5267 §4.3.1: at least one per client; more are refused with NOUPDATE.
  static constexpr std::size_t kMaxUpdateContexts = 8;
  std::vector<UpdateContext> update_contexts;
  // NOTIFY SET (RFC 5465) in effect; none until the client asks.
  std::unique_ptr<NotifyState> notify;
  // In IDLE: the session loop waits for DONE (idle.hpp).
  std::unique_ptr<IdleState> idle;

  Connection& conn() { return *net.connection; }
  const Config& config() const { return *net.config; }

  // Queues a response. Large responses are written out as they grow, so
  // the output buffer never holds more than the configured limit; a client
  // that stops reading is disconnected (lost = true).
  asio::awaitable<void> send(std::string_view bytes);
  void tagged(const Request& request, std::string_view status, std::string_view text) {
    tagged(request.tag, status, text);
  }
  void tagged(std::string_view tag, std::string_view status, std::string_view text);

  // Runs blocking storage work (a callable returning void) on the pool.
  template <class F>
  asio::awaitable<void> blocking(F& work) {
    co_await on_blocking_pool(net, work);
  }

  // The selected folder's news since the last look, as untagged responses:
  // EXPUNGE only when `allow_expunges` (never during FETCH, STORE or SEARCH
  // by sequence number: RFC 9051 §7.5.1), EXISTS, RECENT and FETCH FLAGS.
  asio::awaitable<void> announce_changes(bool allow_expunges);

  // A CONDSTORE enabling command (RFC 7162 §3.1): from now on unsolicited
  // FETCH responses carry MODSEQ; the first one with a mailbox selected
  // reports its HIGHESTMODSEQ.
  asio::awaitable<void> enable_condstore();
  // " MODSEQ (n)" for FETCH responses once CONDSTORE is on, else nothing.
  std::string modseq_item(const storage::MessageInfo& info) const;

  // Leaves the selected state's data behind: the view, $ and update contexts.
  void deselect();

  // Sequence numbers or UIDs of the selected view, ascending and without
  // duplicates; nullopt when a sequence number does not exist (BAD).
  std::optional<std::vector<storage::Uid>> resolve(const SequenceSet& set, bool uid) const;

  // Mailbox names between the wire form (modified UTF-7, or UTF-8 once
  // UTF8=ACCEPT is enabled) and storage's canonical UTF-8.
  std::optional<std::string> mailbox_from_wire(const std::string& wire) const;
  std::string mailbox_to_wire(std::string_view canonical) const;

  // "(\Answered \Flagged ...)" for flags and keywords.
  static std::string flag_list(std::uint32_t system, const std::vector<std::string>& keywords, bool recent);
  // "* FLAGS" and "* OK [PERMANENTFLAGS]" for the selected folder's
  // keywords, remembered as announced; empty when they are what the client
  // was last told (unless `always`, as SELECT sends them). Sent before any
  // response that uses a new keyword.
  std::string flags_update(const std::vector<std::string>& keywords, bool always = false);
};

// A sequence set over a folder's UIDs (ascending): UIDs or sequence numbers,
// `$` as `saved_result`; nullopt for a sequence number past the end.
std::optional<std::vector<storage::Uid>> resolve_in(const std::vector<storage::Uid>& uids,
                                                    const std::vector<storage::Uid>& saved_result,
                                                    const SequenceSet& set, bool uid);

// Every system flag a client may set (all but \Recent).
inline constexpr std::uint32_t kSystemFlags = index::flag::answered | index::flag::flagged | index::flag::deleted |
                                              index::flag::seen | index::flag::draft;

// A client's flag list as storage flags: system flags by name, the rest
// keywords; an unknown system flag or \Recent is an error (its text).
std::expected<storage::Flags, std::string> to_storage_flags(const std::vector<std::string>& names);

// System flags by name ("\\Seen" -> index::flag::seen); 0 when the name is
// not a system flag (then it is a keyword, unless it starts with '\').
std::uint32_t system_flag(std::string_view name);

// What a command answers in its tagged response: "OK", "NO" or "BAD" and
// the text (with its response code). The session sends it after the
// command's untagged responses and the folder's news.
struct Reply {
  std::string status = "OK";
  std::string text;
  bool sent = false;  // the handler sent its tagged response itself (STARTTLS)
};
inline Reply ok(std::string text) { return Reply{"OK", std::move(text)}; }
inline Reply no(std::string text) { return Reply{"NO", std::move(text)}; }
inline Reply bad(std::string text) { return Reply{"BAD", std::move(text)}; }

// NO with the RFC 5530 response code for a storage error; internal details
// go to the log only, the client sees the session id to quote.
Reply storage_error(ImapSession& session, const storage::Error& error);

using Handler = asio::awaitable<Reply> (*)(ImapSession&, const Request&);

}  // namespace roost::imap

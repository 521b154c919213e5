// storage: THE mail store API the protocol services use (DESIGN.md).
//
// Mail lives in Maildir++ directories (the truth); each folder has an LMDB
// index (the speed) that storage keeps in step with the maildir, including
// changes other processes and other programs make. Services never touch a
// file or an index directly.
//
// Every call here may block (file I/O, fsync, LMDB writes): services run
// them on the blocking pool, never on an io thread. Objects are safe to use
// from one thread at a time; different objects for the same user or folder
// may be used from different threads and processes at once.
//
// Errors are values from a closed set; `detail` is for the log, never for
// a client (it may name paths).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/index/folder_index.hpp"
#include "roost/index/search.hpp"

namespace roost::storage {

using index::Modseq;
using index::Uid;

enum class ErrorKind {
  not_found,     // no such folder or message
  exists,        // a folder of that name exists already
  bad_name,      // the name is not allowed (see mailbox_name.hpp)
  not_possible,  // the operation cannot be done to this object (delete INBOX, ...)
  has_children,  // delete of a folder with subfolders that is not empty
  over_quota,
  too_big,
  limit,         // a fixed limit (keywords per folder, ...)
  expunged,      // the message is gone
  temporary,     // try again later (disk full, index busy)
  internal,      // a bug or a corrupt file: the log says what
};
std::string_view describe(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string detail;
};

template <class T>
using Result = std::expected<T, Error>;

// Full synchronisations (folder directory scans) this process has run. A
// server runs them when another program changed a folder, every ten
// minutes per folder and after a damaged index, never for its own changes.
std::uint64_t folder_scans();
// Index transactions that committed delivered or appended messages: with
// deliveries() it shows how many messages one commit serves
// (StoreConfig::commit_delay).
std::uint64_t group_commits();

enum class SpecialUse : std::uint8_t { none, drafts, sent, trash, junk, archive, all, flagged };
std::string_view special_use_attribute(SpecialUse use);  // "\\Drafts", ... or ""

struct DefaultFolder {
  std::string name;
  SpecialUse use = SpecialUse::none;
};

struct StoreConfig {
  std::filesystem::path mail_root;  // users' maildirs: mail_root/<user>
  std::string host_name;            // in unique file names
  std::vector<DefaultFolder> default_folders;  // created at the first login
  bool auto_subscribe_defaults = true;
  std::uint64_t quota_bytes = 0;     // 0: no limit
  std::uint64_t quota_messages = 0;  // 0: no limit
  std::size_t open_index_limit = 256;  // idle folder indexes kept open per process
  // A folder in use is listed in full at least this often (in the
  // background), for foreign changes that did not move a directory's time.
  std::chrono::milliseconds full_sync_interval = std::chrono::minutes(10);
  // Deliveries to one folder that follow each other within this share one
  // index commit (each is still answered once it is durable); a session of
  // this process that needs them ends the wait, other processes see them up
  // to four times this later. 0: a commit per batch.
  std::chrono::milliseconds commit_delay = std::chrono::milliseconds(25);
  // STORE and EXPUNGE flush the directories they renamed or removed files in
  // before they answer ([mail] fsync = always). Without it a power loss may
  // undo a flag change or bring an expunged message back, never lose mail.
  bool fsync_changes = false;
  // Bytes held back on the mail file system for index writes when the disk
  // is full (storage/src/disk_reserve.hpp); 0: none.
  std::uint64_t disk_reserve = 0;
};

struct FolderStatus {
  std::uint32_t messages = 0;
  std::uint32_t recent = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;
  std::uint64_t size = 0;
  Uid uidnext = 1;
  std::uint32_t uidvalidity = 0;
  Modseq highest_modseq = 0;
};

struct FolderInfo {
  std::string name;  // canonical UTF-8
  SpecialUse use = SpecialUse::none;
  bool subscribed = false;
  bool has_children = false;
};

struct Flags {
  std::uint32_t system = 0;            // index::flag bits
  std::vector<std::string> keywords;   // names as clients spell them
};

struct NewMessage {
  std::string data;
  std::int64_t internal_date = 0;  // seconds since 1970; 0: now
  Flags flags;
  std::string guid;  // a copy's source identity (MessageInfo::guid); empty: a new message
};

// A METADATA annotation (RFC 5464 §3): an entry name ("/private/comment")
// and its value, any octets.
struct Annotation {
  std::string name;
  std::string value;
};
struct AnnotationChange {
  std::string name;
  std::optional<std::string> value;  // nullopt removes the entry
};

struct Appended {
  std::uint32_t uidvalidity = 0;
  std::vector<Uid> uids;  // in the order given
};

struct QuotaLimits {
  std::uint64_t bytes = 0, messages = 0;  // 0: none
};

struct QuotaUsage {
  std::uint64_t bytes = 0, messages = 0;
  std::uint64_t bytes_limit = 0, messages_limit = 0;  // 0: none
  bool own_limits = false;  // set for this user, not the configured defaults
};

enum class StoreMode { replace, add, remove };

// One message as a view shows it.
struct MessageInfo {
  Uid uid = 0;
  std::uint32_t system_flags = 0;
  std::vector<std::string> keywords;
  std::int64_t internal_date = 0;
  std::int64_t save_date = 0;
  std::uint64_t size = 0;  // RFC822.SIZE
  Modseq modseq = 0;
  bool recent = false;
};

// One message of a POP3 maildrop listing.
struct MaildropEntry {
  Uid uid = 0;
  std::uint64_t size = 0;  // with CRLF line ends, as RETR sends it
  std::string file_name;   // the maildir base name (without ":2,..."), for UIDL %f; may be left out
  std::string pop3_uidl;   // recorded by a migration; empty: UIDL from the configured format
};

// Held while a POP3 session uses the user's INBOX as its maildrop: an
// advisory lock on a file in the user's maildir, which every Roost process
// sees. Its time records the last login, for LOGIN-DELAY.
class MaildropLock {
 public:
  MaildropLock(MaildropLock&& other) noexcept;
  MaildropLock& operator=(MaildropLock&& other) noexcept;
  ~MaildropLock();
  // The previous login's time (seconds since 1970), 0 if none was recorded.
  std::int64_t previous_login() const { return previous_login_; }
  // Records now as the last login.
  void record_login();

 private:
  friend class User;
  MaildropLock(int fd, std::int64_t previous_login) : fd_(fd), previous_login_(previous_login) {}
  int fd_ = -1;
  std::int64_t previous_login_ = 0;
};

// What changed in a folder since a view last looked.
struct ViewUpdate {
  std::vector<std::uint32_t> expunged;  // sequence numbers, each valid at the time it is announced
  std::vector<Uid> vanished;            // the same messages as UIDs (QRESYNC)
  std::uint32_t exists = 0;             // message count after the update
  bool new_messages = false;
  std::vector<Uid> flags_changed;       // UIDs whose flags changed (not new ones)
};

class Folder;
class User;

// The messages of a selected folder as one session sees them: sequence
// numbers stay put until the session lets expunges through (refresh).
class FolderView {
 public:
  ~FolderView();
  const std::string& name() const;
  bool read_only() const;
  std::uint32_t uidvalidity() const;
  Uid uidnext() const;
  Modseq highest_modseq() const;
  std::uint32_t recent_count() const;
  std::vector<Uid> recent_uids() const;  // \Recent in this view, ascending
  // Sequence number n is uids()[n-1]. refresh() replaces the list (views
  // showing the same state of the folder share one): a caller that keeps
  // it across a refresh holds it with uid_list().
  const std::vector<Uid>& uids() const;
  std::shared_ptr<const std::vector<Uid>> uid_list() const;
  std::optional<std::uint32_t> sequence_of(Uid uid) const;
  // The sequence numbers of those of `uids` (in any order) in this view,
  // in the same order.
  std::vector<std::uint32_t> sequences_of(const std::vector<Uid>& uids) const;
  std::vector<std::string> keywords() const;  // every keyword the folder knows

  // Brings the view up to date (syncing the maildir when others changed it).
  // Without `allow_expunges`, expunged messages keep their sequence numbers
  // until a later refresh that allows them.
  Result<ViewUpdate> refresh(bool allow_expunges);

  Result<std::vector<MessageInfo>> messages(const std::vector<Uid>& uids);
  // What happened after MODSEQ `since` (QRESYNC, RFC 7162 §3.2.5-3.2.6):
  // messages of this view changed since, and UIDs expunged since, both
  // ascending. `expunges_complete` is false when the index does not reach
  // back that far (it was started again since): then only comparing UIDs
  // with the view's tells what vanished.
  struct ChangesSince {
    std::vector<Uid> changed, expunged;
    bool expunges_complete = true;
  };
  Result<ChangesSince> changes_since(Modseq since);
  // Every message of the view in sequence order, from one pass over the
  // index (no message file is opened).
  // The POP3 listing in UID order, from one index pass; file names only
  // when asked for (100,000 of them are 100,000 allocations).
  Result<std::vector<MaildropEntry>> maildrop(bool with_file_names);
  // The caches of many messages in one read, only `fields`
  // (index::cache_field); expunged messages left out.
  Result<std::vector<std::pair<Uid, index::MessageCache>>> caches(const std::vector<Uid>& uids, unsigned fields);
  Result<index::MessageKeys> keys(Uid uid);
  // RFC 8474 object identifiers (index/object_id.hpp): the folder's, and
  // each message's EMAILID and THREADID (expunged messages left out).
  Result<std::string> mailbox_id();
  struct ObjectIds {
    Uid uid = 0;
    std::string email_id, thread_id;
  };
  Result<std::vector<ObjectIds>> object_ids(const std::vector<Uid>& uids);
  // The message's bytes, or a range of them.
  Result<std::string> read(Uid uid);
  Result<std::string> read_range(Uid uid, std::uint64_t offset, std::uint64_t length);

  // SEARCH, SORT and THREAD over the messages of this view (or of
  // `within`, a subset of them), answered from the index.
  Result<std::vector<Uid>> search(const index::SearchKey& key, const std::vector<Uid>* within = nullptr);
  Result<std::vector<Uid>> sort(const std::vector<index::SortCriterion>& criteria, const index::SearchKey& key);
  Result<std::vector<index::ThreadNode>> thread(index::ThreadAlgorithm algorithm, const index::SearchKey& key);

  struct StoreResult {
    std::vector<Uid> changed;   // flags actually changed
    std::vector<Uid> modified;  // refused by UNCHANGEDSINCE (RFC 7162 MODIFIED)
  };
  Result<StoreResult> store(const std::vector<Uid>& uids, StoreMode mode, const Flags& flags,
                            std::optional<Modseq> unchanged_since = {});

  // Removes \Deleted messages (all, or those in `only`); returns their UIDs.
  Result<std::vector<Uid>> expunge(const std::optional<std::vector<Uid>>& only = {});
  // Removes exactly these messages whatever their flags (POP3 UPDATE, MOVE);
  // returns the UIDs that were still there.
  Result<std::vector<Uid>> remove(const std::vector<Uid>& uids);

  struct Copied {
    std::uint32_t uidvalidity = 0;
    std::vector<Uid> source, destination;
  };
  Result<Copied> copy(const std::vector<Uid>& uids, std::string_view destination, bool move);

  // A number that changes whenever the folder may have changed, for
  // watchers: the content of the folder's change file.
  std::filesystem::path change_file() const;
  std::vector<std::filesystem::path> watch_paths() const;

 private:
  friend class User;
  struct Impl;
  explicit FolderView(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class User {
 public:
  ~User();
  const std::string& name() const;
  std::filesystem::path root() const;

  Result<std::vector<FolderInfo>> list();
  // Subscribed names no folder has: a subscription outlives its folder
  // (RFC 9051 §6.3.7), and LSUB and LIST (SUBSCRIBED) still show it.
  Result<std::vector<std::string>> stale_subscriptions();
  Result<void> create(std::string_view name, SpecialUse use = SpecialUse::none);
  Result<void> remove(std::string_view name);
  Result<void> rename(std::string_view from, std::string_view to);
  Result<void> subscribe(std::string_view name, bool subscribed);
  Result<FolderStatus> status(std::string_view name);
  // The canonical name of an existing folder (ErrorKind::not_found when
  // there is none), without reading its index.
  Result<std::string> existing(std::string_view name);
  // The folder's MAILBOXID (RFC 8474), kept across RENAME.
  Result<std::string> mailbox_id(std::string_view name);
  // What ChangeWatcher watches to learn that a folder changed without
  // opening it (NOTIFY): its directory, new/ and cur/, in that order. The
  // entries of the directory say what changed (watched_change()); INBOX's
  // directory is the user's root, where the folder list, the subscriptions
  // and the server annotations live too.
  Result<std::vector<std::filesystem::path>> watch_paths(std::string_view folder);
  // A view that is not read-only takes \Recent (RFC 3501 §2.3.2) for what
  // it is the first to see, unless `claims_recent` is false (POP3, which has
  // no \Recent and leaves it to IMAP sessions).
  Result<std::unique_ptr<FolderView>> open(std::string_view name, bool read_only, bool claims_recent = true);

  // METADATA annotations of a folder, or of the whole account when `folder`
  // is empty (RFC 5464 server entries). They live in the folder's directory:
  // RENAME takes them along, DELETE removes them, and renaming INBOX copies
  // them (§4.1). annotate() applies every change or none; ErrorKind::limit
  // when more than `max_entries` would exist.
  Result<std::vector<Annotation>> annotations(std::string_view folder);
  Result<void> annotate(std::string_view folder, const std::vector<AnnotationChange>& changes,
                        std::size_t max_entries);

  // Delivery (new/, no flags) and APPEND (cur/, with flags). Either every
  // message is durable and has its UID, or none was added.
  Result<Appended> deliver(std::string_view folder, NewMessage message);
  Result<Appended> append(std::string_view folder, std::vector<NewMessage> messages);

  Result<QuotaUsage> quota();
  // Limits for this user alone, replacing the configured ones (RFC 9208
  // SETQUOTA: a resource not given has no limit); nullopt returns to the
  // configured ones. The maildirsize limits line follows.
  Result<QuotaUsage> set_quota(std::optional<QuotaLimits> limits);
  // The POP3 maildrop lock. With `exclusive`, nullopt when another session
  // holds it; without, it is shared (only the login time is kept).
  Result<std::optional<MaildropLock>> lock_maildrop(bool exclusive);
  // over_quota when `messages` more messages of `bytes` in total would not
  // fit (RFC 1870 §6.2 lets LMTP refuse at RCPT with the declared SIZE).
  Result<void> check_quota(std::uint64_t bytes, std::uint64_t messages);

  // Rebuilds a folder's index from the maildir and the UID list; verifies
  // that the index agrees with them (a description of each difference).
  Result<void> rebuild_index(std::string_view folder);
  Result<std::vector<std::string>> verify_index(std::string_view folder);

 private:
  friend class Store;
  friend class FolderView;
  struct Impl;
  explicit User(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// What an event under User::watch_paths() means: `path_index` is the
// position of the path that reported it, `entry` the name of the entry in
// it (empty for the path itself).
enum class WatchedChange : std::uint8_t { other, messages, annotations, server_annotations, folders, subscriptions };
WatchedChange watched_change(std::size_t path_index, std::string_view entry);

class Store {
 public:
  explicit Store(StoreConfig config);
  ~Store();
  const StoreConfig& config() const;
  // A user's mail, creating the maildir and the default folders the first time.
  Result<std::unique_ptr<User>> open_user(std::string_view user);

 private:
  friend class User;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace roost::storage

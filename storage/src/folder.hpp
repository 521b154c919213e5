// One folder's maildir and index, shared by every view and delivery of it
// in this process. Keeps the index in step with the maildir and the UID list.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "disk_reserve.hpp"
#include "roost/index/user_index.hpp"
#include "roost/storage/storage.hpp"

namespace roost::storage {

Error error_from(const index::LmdbError& e);
Error error_from(std::error_code ec, std::string_view what);

class Folder : public std::enable_shared_from_this<Folder> {
 public:
  Folder(const StoreConfig& config, std::shared_ptr<DiskReserve> reserve, std::filesystem::path root,
         std::filesystem::path dir, std::string name);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  std::filesystem::path index_dir() const { return dir_ / "roost-index"; }
  static constexpr std::string_view kChangeFile = "roost-changes";
  std::filesystem::path change_file() const { return dir_ / kChangeFile; }
  std::filesystem::path uidlist_file() const;
  std::filesystem::path keywords_file() const;
  std::filesystem::path message_path(const index::MessageRecord& record) const;

  Result<std::shared_ptr<index::Env>> env();

  // Makes the index agree with the maildir and the UID list: cheaply when
  // neither changed since the index last saw them, fully when `full` or
  // when they did.
  Result<index::FolderMeta> sync(bool full);

  // Adds messages (group commit with concurrent callers). `links`, when
  // given, names for each message a file already durable on this file
  // system with the same bytes (COPY): it is hard-linked, not written.
  Result<Appended> add(std::vector<NewMessage> messages, bool deliver,
                       const std::vector<std::filesystem::path>& links = {});

  Result<FolderView::StoreResult> store(const std::vector<Uid>& uids, StoreMode mode, const Flags& flags,
                                        std::optional<Modseq> unchanged_since);
  // `deleted`: messages flagged \Deleted (all, or those in `only`).
  // `listed`: exactly the messages in `only`, whatever their flags (POP3's
  // UPDATE, MOVE), without renaming each file to add the flag first.
  enum class ExpungeWhich { deleted, listed };
  Result<std::vector<Uid>> expunge(const std::optional<std::vector<Uid>>& only,
                                   ExpungeWhich which = ExpungeWhich::deleted);

  // Removes what a crash left in tmp/ (maildir(5)): files whose inode has not
  // changed for `age` (every full sync uses 36 hours, as Dovecot does).
  std::size_t remove_stale_tmp(std::chrono::seconds age);
  // Removes what earlier Roost processes of this host left in tmp/ when they
  // died mid-delivery: files with Roost's names, made before this process
  // started, by a process that is gone (a crash loop must not fill the disk
  // with copies of big messages for 36 hours). Once per folder and process.
  std::size_t remove_leftovers();
  // Flushes cur/ and new/ ([mail] fsync = always, after STORE and EXPUNGE).
  std::error_code flush_directories();

  // Deletes the index and builds it again from the maildir and UID list.
  Result<void> rebuild();
  // The GUID in the UID list's header (written first when missing): stable
  // for as long as the folder keeps its UIDVALIDITY, also across RENAME.
  Result<std::string> mailbox_guid();
  Result<std::vector<std::string>> verify();

  // Claims the \Recent messages for a session: returns the first recent UID.
  Result<Uid> claim_recent();

  // Returns once no group commit of this folder is running: a delivery is
  // answered before its index commit ends, and the Store, a DELETE or a
  // RENAME waits for that end.
  void wait_for_commits();

  // Held by a thread of this process about to write the folder's index (or
  // waiting for its commits): a group commit open for more deliveries
  // commits at once rather than keep it waiting.
  class WriteIntent {
   public:
    explicit WriteIntent(Folder& folder);
    ~WriteIntent();
    WriteIntent(const WriteIntent&) = delete;
    WriteIntent& operator=(const WriteIntent&) = delete;

   private:
    Folder& folder_;
  };

  // Wakes watchers in every process (bumps the change file).
  void announce(Modseq modseq);
  // Publishes the folder's counters to the user's index (STATUS reads them).
  void publish(const index::FolderMeta& meta);
  // Drops them (the folder is being deleted or renamed).
  void unpublish();
  // The folder was deleted or renamed: a folder made later at this path is
  // another one, whatever inode its directory gets.
  void retire() { retired_.store(true, std::memory_order_release); }
  bool retired() const { return retired_.load(std::memory_order_acquire); }
  // The counters as last published, if they still describe the folder.
  std::optional<index::FolderCounters> published();

  std::vector<std::string> keywords();

  // The index's state that a list of UIDs was read at: every change to the
  // set of messages raises the highest MODSEQ.
  struct UidState {
    std::uint32_t uidvalidity = 0;
    Modseq highest_modseq = 0;
    Uid uidnext = 0;
    std::uint32_t messages = 0;
    bool operator==(const UidState&) const = default;
  };
  // The folder's UIDs at `state`, if a view that shows exactly that state
  // offered them: views share one list instead of keeping 4 bytes per
  // message each. Kept only while some view holds it.
  std::shared_ptr<const std::vector<Uid>> shared_uids(const UidState& state);
  // Offers `uids`, which must be the index's UIDs at `state`, unless a list
  // for `state` is offered already.
  void share_uids(const UidState& state, const std::shared_ptr<const std::vector<Uid>>& uids);

  // Moves the words of delivered messages into the full-text index, in the
  // background, once enough of them wait (index::merge_pending).
  void schedule_merge();
  Result<void> merge_now();

 private:
  struct Pending;
  struct Scan;
  Result<void> ensure_directories();
  Result<std::uint64_t> keyword_mask(const std::vector<std::string>& names, bool create);
  // The committer's loop: batches from the queue until it is empty.
  void run_commits();
  Result<void> commit_batch(std::vector<std::shared_ptr<Pending>>& batch);
  // Gives the batch's deliverers their results (set in each Pending) and the
  // flushes they wait for before answering.
  void hand_out(std::vector<std::shared_ptr<Pending>>& batch,
                const std::vector<std::shared_future<std::error_code>>& flushes);
  // Waits until `until` for deliveries to queue and takes them as the next
  // round of the open commit; false when none came or a writer waits.
  bool next_round(std::vector<std::shared_ptr<Pending>>& round, std::chrono::steady_clock::time_point until);
  std::expected<void, index::LmdbError> full_sync(index::Txn& txn, index::FolderMeta& meta, Error& error);

  const StoreConfig& config_;  // not for background work, which may outlive the Store
  const std::shared_ptr<DiskReserve> reserve_;
  const std::chrono::steady_clock::duration full_sync_interval_;
  const std::chrono::milliseconds commit_delay_;  // StoreConfig::commit_delay
  std::filesystem::path root_;  // the user's maildir, for the quota file
  std::filesystem::path dir_;
  std::string name_;

  // StoreConfig::full_sync_interval: when one is due and the folder looks in
  // step, a background full sync does it; no session waits for it.
  void schedule_full_sync();
  std::atomic<bool> retired_{false};
  std::atomic<bool> merging_{false};
  std::atomic<bool> full_syncing_{false};
  std::once_flag leftovers_removed_;
  std::atomic<std::chrono::steady_clock::rep> last_full_sync_{std::chrono::steady_clock::now().time_since_epoch().count()};

  std::mutex uids_mutex_;  // guards the two below
  UidState uids_state_;
  std::weak_ptr<const std::vector<Uid>> uids_;

  std::mutex mutex_;  // guards the queue below and each Pending's `done`
  std::deque<std::shared_ptr<Pending>> queue_;
  bool committing_ = false;  // a committer is running (run_commits)
  std::size_t writers_waiting_ = 0;  // WriteIntents held
  std::optional<std::chrono::steady_clock::time_point> last_arrival_;  // of the latest delivery queued
  std::condition_variable done_;
  std::condition_variable more_;  // a delivery queued or a writer waits
};

}  // namespace roost::storage

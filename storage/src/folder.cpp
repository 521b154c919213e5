// Keeping a folder's index in step with its maildir.
//
// The maildir is the truth for which messages exist and their flags; the
// UID list is the truth for UIDs and UIDVALIDITY; the index caches both and
// everything computed from the messages. Every change goes in this order:
// files first (written, fsynced, renamed, directory fsynced) and the UID
// list (appended, flushed), then the answer; the index commit runs beside
// those flushes and may end after the answer. A crash between steps leaves
// files the index does not know yet; the next full sync finds them and gives
// them the UIDs the UID list recorded.
//
// All index writers, in every process, are serialised by the folder's LMDB
// write transaction, and every file rename and UID list write by Roost
// happens inside one. Other programs may still rename or drop files at any
// time: a message missing from one directory listing is looked for again
// before it is taken for expunged (LIBRARY-FACTS §2: listings taken during
// renames miss files).
#include "folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <future>
#include <thread>
#include <map>
#include <unordered_map>
#include <set>

#include "maildir.hpp"
#include "roost/storage/fault_injection.hpp"
#include "quota.hpp"
#include "uidlist.hpp"
#include "roost/core/ascii.hpp"

namespace roost::storage {

namespace fs = std::filesystem;
using index::FolderMeta;
using index::LmdbError;
using index::MessageRecord;
using index::Txn;

namespace {

// New files indexed per write transaction during a full sync: bounds the
// transaction's dirty pages when a large maildir is taken over.
constexpr std::size_t kImportBatch = 500;
// MODSEQs reserved in the modseq file at a time.
constexpr Modseq kModseqReserve = 10000;
constexpr std::string_view kModseqFile = "roost-modseq";
// Messages whose words may wait before a background merge moves them into
// the full-text index, and how many one merge transaction takes.
constexpr std::size_t kMergeThreshold = 256;
constexpr std::size_t kMergeBatch = 2048;
// How long an index transaction stays open at most for deliveries that keep
// coming, in StoreConfig::commit_delay; and how many may be open so at once,
// so that half of the committer threads are always free for other folders.
constexpr int kCommitDelaysAtMost = 4;
constexpr int kMostDelayedCommits = 32;
std::atomic<int> delayed_commits{0};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t mtime_ns(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::int64_t mtime_seconds(const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return now_seconds();
  return st.st_mtim.tv_sec;
}

Modseq now_microseconds() {
  return static_cast<Modseq>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
}

bool path_exists(const fs::path& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

struct FileEntry {
  bool in_new = false;
  std::string name;
};

// key -> where the file is, for new/ and cur/. Hashed: a full sync of a
// 100,000-message folder spent a third of its time in a std::map's string
// comparisons and node churn.
using FileMap = std::unordered_map<std::string, FileEntry>;

FileMap scan(const fs::path& dir) {
  FileMap out;
  for (bool in_new : {true, false}) {
    DIR* d = ::opendir((dir / (in_new ? "new" : "cur")).c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      // Messages are regular files: a link (to another user's mail, to a
      // system file) or anything else planted here is no message.
      if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
      out.insert_or_assign(std::string(name.substr(0, name.find(':'))), FileEntry{in_new, std::string(name)});
    }
    ::closedir(d);
  }
  return out;
}

// The files in key order: maildir names start with their delivery time, so
// new UIDs follow it.
std::vector<const FileMap::value_type*> in_key_order(const FileMap& files) {
  std::vector<const FileMap::value_type*> out;
  out.reserve(files.size());
  for (const auto& file : files) out.push_back(&file);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
  return out;
}

// Looks for one message by key, when its last known name is gone.
std::optional<FileEntry> find_file(const fs::path& dir, std::string_view key) {
  for (bool in_new : {false, true}) {
    DIR* d = ::opendir((dir / (in_new ? "new" : "cur")).c_str());
    if (d == nullptr) continue;
    std::optional<FileEntry> found;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name.starts_with(key) && (name.size() == key.size() || name[key.size()] == ':')) {
        found = FileEntry{in_new, std::string(name)};
        break;
      }
    }
    ::closedir(d);
    if (found) return found;
  }
  return std::nullopt;
}

// A message file read and analysed for its index record (with `uid`; the
// caller gives it its MODSEQ); nullopt when it cannot be read (gone since it was
// listed, or no message).
struct ImportedFile {
  MessageRecord record;
  index::MessageAnalysis analysis;
};
std::optional<ImportedFile> read_for_index(const fs::path& dir, const std::string& key, const FileEntry& file,
                                           Uid uid) {
  fs::path path = dir / (file.in_new ? "new" : "cur") / file.name;
  auto data = maildir::read_file(path);
  if (!data) return std::nullopt;
  ImportedFile out;
  MessageRecord& r = out.record;
  r.uid = uid;
  maildir::FileName parsed = maildir::parse(file.name);
  r.flags = parsed.flags;
  r.keywords = parsed.keywords;
  r.internal_date = mtime_seconds(path);
  r.save_date = now_seconds();
  r.size = data->size();
  r.in_new = file.in_new;
  r.file_name = file.name;
  r.file_key = key;
  out.analysis = index::analyze(*data, r.internal_date);
  r.vsize = out.analysis.vsize;
  return out;
}

std::vector<std::string> read_keyword_file(const fs::path& file) {
  auto text = maildir::read_file(file);
  return text ? maildir::parse_keywords(*text) : std::vector<std::string>{};
}

std::error_code write_keyword_file(const fs::path& file, const std::vector<std::string>& keywords) {
  std::string text;
  for (std::size_t i = 0; i < keywords.size(); ++i)
    if (!keywords[i].empty()) text += std::to_string(i) + " " + keywords[i] + "\n";
  return maildir::replace_file(file, text);
}

LmdbError carry(const Error& e) { return LmdbError{-1, e.detail}; }

// Threads for work that waits, off the caller's thread. A thread is added
// whenever a job would otherwise queue (up to `most`); threads stay for the
// next jobs rather than being made per job.
class Pool {
 public:
  explicit Pool(std::size_t most) : most_(most) {}
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  std::future<std::error_code> submit(std::function<std::error_code()> job) {
    std::packaged_task<std::error_code()> task(std::move(job));
    auto result = task.get_future();
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    if (queue_.size() > idle_ && workers_.size() < most_) workers_.emplace_back([this] { run(); });
    else wake_.notify_one();
    return result;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }
  const std::size_t most_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<std::error_code()>> queue_;
  std::size_t idle_ = 0;  // workers waiting for a job
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Three pools, so that no job waits for one queued behind it in its own
// pool: flushes and message files (which wait for nothing else); group
// commits (which wait for flushes); merges and full syncs (which wait for
// a folder's write lock, held by a commit or a session). Made together and
// ended in this order at exit: committers first (a commit still open for
// more deliveries flushes and schedules merges), flushers last.
struct Pools {
  Pool flusher{64};
  Pool background{4};
  Pool committer{64};
};

Pools& pools() {
  static Pools instance;
  return instance;
}

Pool& flusher() { return pools().flusher; }
Pool& committer() { return pools().committer; }
Pool& background() { return pools().background; }

}  // namespace

Error error_from(const LmdbError& e) {
  if (e.code == MDB_MAP_FULL || e.code == MDB_READERS_FULL || e.code == MDB_TXN_FULL || e.code == ENOSPC ||
      e.code == EAGAIN || e.code == EBUSY)
    return {ErrorKind::temporary, e.what};
  return {ErrorKind::internal, e.what};
}

Error error_from(std::error_code ec, std::string_view what) {
  std::string detail = std::string(what) + ": " + ec.message();
  if (ec == std::errc::no_space_on_device || ec.value() == EDQUOT || ec == std::errc::too_many_files_open ||
      ec == std::errc::resource_unavailable_try_again || ec == std::errc::timed_out)
    return {ErrorKind::temporary, detail};
  if (ec == std::errc::no_such_file_or_directory) return {ErrorKind::not_found, detail};
  return {ErrorKind::internal, detail};
}

// How long a writer waits for Dovecot's lock on the UID list before it
// gives up with a temporary error (Dovecot itself waits two minutes).
constexpr std::chrono::seconds kDovecotLockWait{30};

// Dovecot's UID list lock, when Dovecot serves this folder too: taken by
// every writer of the UID list, so that Dovecot and Roost assign UIDs in
// turn during a migration that runs both.
std::expected<std::optional<uidlist::DovecotLock>, Error> lock_for_dovecot(const fs::path& dir,
                                                                           const fs::path& uidlist_file) {
  if (!uidlist::dovecot_serves(dir)) return std::nullopt;
  auto lock = uidlist::DovecotLock::take(uidlist_file, kDovecotLockWait);
  if (!lock) return std::unexpected(error_from(lock.error(), "lock " + uidlist_file.string()));
  return std::optional<uidlist::DovecotLock>(std::move(*lock));
}

struct Folder::Pending {
  std::vector<NewMessage> messages;
  std::vector<index::MessageAnalysis> analyses;
  std::vector<std::uint64_t> keyword_masks;
  std::vector<std::string> names;  // file names in tmp/, then in new/ or cur/
  bool deliver = true;
  bool done = false;  // handed out (or failed): `result` and `flushes` are set
  // Queued within StoreConfig::commit_delay of the folder's previous delivery.
  bool follows_closely = false;
  Result<Appended> result;
  // The batch's directory and UID list flushes: durable when they end.
  std::vector<std::shared_future<std::error_code>> flushes;
};

Folder::Folder(const StoreConfig& config, std::shared_ptr<DiskReserve> reserve, fs::path root, fs::path dir,
               std::string name)
    : config_(config),
      reserve_(std::move(reserve)),
      full_sync_interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(config.full_sync_interval)),
      commit_delay_(config.commit_delay),
      root_(std::move(root)),
      dir_(std::move(dir)),
      name_(std::move(name)) {}

fs::path Folder::uidlist_file() const { return dir_ / uidlist::kFileName; }
fs::path Folder::keywords_file() const { return dir_ / "dovecot-keywords"; }

fs::path Folder::message_path(const MessageRecord& record) const {
  return dir_ / (record.in_new ? "new" : "cur") / record.file_name;
}

Result<std::shared_ptr<index::Env>> Folder::env() {
  auto env = index::EnvRegistry::instance().open(index_dir(), index::folder_env_options());
  if (!env && (env.error().code == MDB_INVALID || env.error().code == MDB_CORRUPTED ||
               env.error().code == MDB_VERSION_MISMATCH || env.error().code == MDB_PAGE_NOTFOUND)) {
    // The index is a cache: a damaged one is thrown away and built again.
    std::error_code ec;
    std::filesystem::remove_all(index_dir(), ec);
    env = index::EnvRegistry::instance().open(index_dir(), index::folder_env_options());
  }
  if (!env) return std::unexpected(error_from(env.error()));
  return *env;
}

Result<void> Folder::ensure_directories() {
  for (const char* sub : {"cur", "new", "tmp"}) {
    std::error_code ec;
    fs::create_directories(dir_ / sub, ec);
    if (ec) return std::unexpected(error_from(ec, "create " + (dir_ / sub).string()));
  }
  return {};
}

std::vector<std::string> Folder::keywords() { return read_keyword_file(keywords_file()); }

std::size_t Folder::remove_leftovers() {
  static const std::int64_t process_started = now_seconds();
  const std::string host = maildir::sanitize_host(config_.host_name);
  std::size_t removed = 0;
  DIR* d = ::opendir((dir_ / "tmp").c_str());
  if (d == nullptr) return 0;
  while (struct dirent* e = ::readdir(d)) {
    auto pid = maildir::roost_writer(e->d_name, host);
    if (!pid || *pid == ::getpid()) continue;
    if (::kill(*pid, 0) == 0 || errno != ESRCH) continue;  // that process still runs
    struct stat st{};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_ctim.tv_sec < process_started && ::unlinkat(::dirfd(d), e->d_name, 0) == 0)
      ++removed;
  }
  ::closedir(d);
  return removed;
}

std::size_t Folder::remove_stale_tmp(std::chrono::seconds age) {
  // The inode change time, not the mtime: a message being appended right
  // now already carries its (possibly old) INTERNALDATE as its mtime.
  std::int64_t now = now_seconds();
  std::size_t removed = 0;
  DIR* d = ::opendir((dir_ / "tmp").c_str());
  if (d == nullptr) return 0;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st{};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        now - st.st_ctim.tv_sec >= age.count() && ::unlinkat(::dirfd(d), e->d_name, 0) == 0)
      ++removed;
  }
  ::closedir(d);
  return removed;
}

Result<std::uint64_t> Folder::keyword_mask(const std::vector<std::string>& names, bool create) {
  // A keyword the folder has never seen gets the next free number in
  // dovecot-keywords: read, add and write under Dovecot's lock on that file
  // (dovecot-keywords.lock), so that two sessions, processes or servers
  // adding keywords at once never give one number to two names.
  std::optional<uidlist::DovecotLock> lock;
  std::vector<std::string> known = keywords();
  const bool adds = create && std::any_of(names.begin(), names.end(), [&](const std::string& name) {
    return std::none_of(known.begin(), known.end(), [&](const std::string& k) { return ascii_iequals(k, name); });
  });
  if (adds) {
    auto taken = uidlist::DovecotLock::take(keywords_file(), kDovecotLockWait);
    if (!taken) return std::unexpected(error_from(taken.error(), "lock " + keywords_file().string()));
    lock.emplace(std::move(*taken));
    known = keywords();  // as the last writer left it
  }
  std::uint64_t mask = 0;
  bool added = false;
  for (const auto& name : names) {
    auto it = std::find_if(known.begin(), known.end(), [&](const std::string& k) { return ascii_iequals(k, name); });
    if (it == known.end()) {
      if (!create) continue;
      auto free = std::find(known.begin(), known.end(), std::string());
      if (free == known.end()) {
        if (known.size() >= index::kMaxKeywords)
          return std::unexpected(Error{ErrorKind::limit, "keyword limit reached in " + dir_.string()});
        known.push_back(name);
        it = known.end() - 1;
      } else {
        *free = name;
        it = free;
      }
      added = true;
    }
    mask |= std::uint64_t{1} << (it - known.begin());
  }
  if (added) {
    if (auto ec = write_keyword_file(keywords_file(), known)) return std::unexpected(error_from(ec, "write keywords"));
  }
  return mask;
}

std::shared_ptr<const std::vector<Uid>> Folder::shared_uids(const UidState& state) {
  std::lock_guard lock(uids_mutex_);
  return uids_state_ == state ? uids_.lock() : nullptr;
}

void Folder::share_uids(const UidState& state, const std::shared_ptr<const std::vector<Uid>>& uids) {
  std::lock_guard lock(uids_mutex_);
  if (uids_state_ == state && !uids_.expired()) return;
  uids_state_ = state;
  uids_ = uids;
}

void Folder::announce(Modseq modseq) {
  int fd = ::open(change_file().c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(modseq >> (56 - 8 * i));
  (void)::pwrite(fd, bytes, sizeof bytes, 0);
  ::close(fd);
}

void Folder::publish(const FolderMeta& meta) {
  auto env = index::EnvRegistry::instance().open(root_ / "roost-folders", index::user_env_options());
  if (!env) return;  // a cache: STATUS computes from the folder instead
  (void)(*env)->write([&](Txn& txn) { return index::put_counters(txn, name_, index::counters_of(meta)); });
}

void Folder::unpublish() {
  auto env = index::EnvRegistry::instance().open(root_ / "roost-folders", index::user_env_options());
  if (!env) return;
  (void)(*env)->write([&](Txn& txn) { return index::forget_counters(txn, name_); });
}

std::optional<index::FolderCounters> Folder::published() {
  auto env = index::EnvRegistry::instance().open(root_ / "roost-folders", index::user_env_options());
  if (!env) return std::nullopt;
  std::optional<index::FolderCounters> counters;
  (void)(*env)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto found = index::find_counters(txn, name_);
    if (found) counters = *found;
    return {};
  });
  if (!counters) return std::nullopt;
  // Fresh only while the folder announced nothing newer and nobody else
  // touched its directories.
  int fd = ::open(change_file().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  unsigned char bytes[8];
  bool read_all = ::pread(fd, bytes, sizeof bytes, 0) == sizeof bytes;
  ::close(fd);
  if (!read_all) return std::nullopt;
  Modseq announced = 0;
  for (unsigned char b : bytes) announced = (announced << 8) | b;
  if (announced != counters->highest_modseq || mtime_ns(dir_ / "new") != counters->new_mtime_ns ||
      mtime_ns(dir_ / "cur") != counters->cur_mtime_ns)
    return std::nullopt;
  return counters;
}

namespace {

// The next MODSEQ, reserving a range in the modseq file when needed.
std::expected<Modseq, LmdbError> next_modseq(const fs::path& dir, FolderMeta& meta) {
  Modseq next = meta.highest_modseq + 1;
  if (next > meta.modseq_reserved) {
    Modseq reserved = next + kModseqReserve;
    fs::path file = dir / kModseqFile, tmp = dir / "roost-modseq.tmp";
    ::unlink(tmp.c_str());
    std::string text = std::to_string(reserved) + "\n";
    if (auto ec = maildir::write_new_file(tmp, text, now_seconds()))
      return std::unexpected(LmdbError{ec.value(), "write " + tmp.string() + ": " + ec.message()});
    if (::rename(tmp.c_str(), file.c_str()) != 0)
      return std::unexpected(LmdbError{errno, "rename " + file.string()});
    meta.modseq_reserved = reserved;
  }
  return next;
}

Modseq reserved_floor(const fs::path& dir) {
  std::ifstream in(dir / kModseqFile);
  Modseq value = 0;
  in >> value;
  return in ? value : 0;
}

// The folder's state; an unreadable one (damage, an older format) empties
// the index so that the sync that follows builds it again.
std::expected<FolderMeta, LmdbError> meta_or_reset(Txn& txn, const fs::path& dir) {
  auto meta = index::read_meta(txn);
  if (meta || meta.error().code != MDB_CORRUPTED) return meta;
  if (auto cleared = index::clear(txn); !cleared) return std::unexpected(cleared.error());
  FolderMeta fresh;
  fresh.highest_modseq = fresh.modseq_reserved = fresh.expunges_since = reserved_floor(dir);
  return fresh;
}

std::atomic<std::uint64_t> scans{0};
std::atomic<std::uint64_t> commits{0};

}  // namespace

std::uint64_t folder_scans() { return scans.load(std::memory_order_relaxed); }
std::uint64_t group_commits() { return commits.load(std::memory_order_relaxed); }

std::expected<void, LmdbError> Folder::full_sync(Txn& txn, FolderMeta& meta, Error& error) {
  scans.fetch_add(1, std::memory_order_relaxed);
  // Held to the end: new files get their UIDs from the list as read here.
  auto dovecot_lock = lock_for_dovecot(dir_, uidlist_file());
  if (!dovecot_lock) {
    error = dovecot_lock.error();
    return std::unexpected(carry(error));
  }
  // 1. The UID list: create it, or read it whole.
  auto contents = uidlist::read(uidlist_file());
  if (!contents && contents.error() != std::errc::no_such_file_or_directory) {
    error = error_from(contents.error(), "read " + uidlist_file().string());
    return std::unexpected(carry(error));
  }
  if (!contents) {
    uidlist::Header header;
    header.uidvalidity = meta.uidvalidity != 0
                            ? meta.uidvalidity
                            : uidlist::allocate_uidvalidity(root_, static_cast<std::uint32_t>(now_seconds()));
    header.next_uid = meta.uidnext;
    header.guid = uidlist::new_guid();
    std::vector<uidlist::Entry> entries;
    auto listed = index::for_each_record(txn, 1, [&](const MessageRecord& r) {
      entries.push_back(uidlist::entry_for(r.uid, r.file_key, r.guid, r.pop3_uidl));
      return true;
    });
    if (!listed) return listed;
    auto written = uidlist::rewrite(uidlist_file(), header, entries);
    if (!written) {
      error = error_from(written.error(), "write " + uidlist_file().string());
      return std::unexpected(carry(error));
    }
    contents = uidlist::Contents{header, entries, written->second, written->first};
  }
  if (meta.uidvalidity != contents->header.uidvalidity) {
    // The index belongs to another UIDVALIDITY (or to none): start it again,
    // keeping MODSEQ going forward.
    Modseq floor = std::max({meta.highest_modseq, meta.modseq_reserved, reserved_floor(dir_)});
    // Dovecot served this folder and its clients may hold its MODSEQs, which
    // Roost cannot read (they live in Dovecot's binary index): start above
    // any counter it can have reached, the time in microseconds, so that a
    // client's CHANGEDSINCE finds every change from here on (it refetches
    // the flags once) rather than none.
    if (uidlist::dovecot_serves(dir_)) floor = std::max(floor, now_microseconds());
    if (auto cleared = index::clear(txn); !cleared) return cleared;
    meta = FolderMeta{};
    meta.uidvalidity = contents->header.uidvalidity;
    meta.highest_modseq = floor;
    meta.modseq_reserved = floor;
    meta.expunges_since = floor;
  }
  Uid max_uid = 0;
  for (const auto& e : contents->entries) max_uid = std::max(max_uid, e.uid);
  if (max_uid >= meta.uidnext && meta.messages > 0) {
    // The UID list knows UIDs the index never committed: a delivery's
    // commit was lost in a crash. Its MODSEQs may have been seen; jump past
    // every MODSEQ ever reserved.
    meta.highest_modseq = std::max({meta.highest_modseq, meta.modseq_reserved, reserved_floor(dir_)});
  }
  meta.uidnext = std::max({meta.uidnext, contents->header.next_uid, max_uid + 1});
  meta.uidlist_inode = contents->inode;
  meta.uidlist_offset = contents->end;
  meta.keywords = keywords();

  remove_stale_tmp(std::chrono::hours(36));

  // 2. The directories, with their times taken before listing them.
  std::int64_t new_mtime = mtime_ns(dir_ / "new"), cur_mtime = mtime_ns(dir_ / "cur");
  auto files = scan(dir_);
  // The MODSEQ of what this sync changes, reserved (a file written) only
  // when something changes: a sync of an unchanged folder writes nothing,
  // so that a full disk does not keep a session from reading its mail.
  std::optional<Modseq> modseq_taken;
  auto modseq = [&]() -> std::expected<Modseq, LmdbError> {
    if (!modseq_taken) {
      auto next = next_modseq(dir_, meta);
      if (!next) return next;
      modseq_taken = *next;
    }
    return *modseq_taken;
  };

  // 3. Known messages: renamed (flags changed) or gone. Only those are
  // copied out of the walk, and changed after it.
  std::vector<std::pair<MessageRecord, FileEntry>> renamed;
  std::vector<MessageRecord> missing;
  auto listed = index::for_each_record(txn, 1, [&](const MessageRecord& r) {
    auto found = files.find(r.file_key);
    if (found == files.end()) {
      missing.push_back(r);
      return true;
    }
    if (found->second.in_new != r.in_new || found->second.name != r.file_name)
      renamed.emplace_back(r, std::move(found->second));
    files.erase(found);
    return true;
  });
  if (!listed) return listed;
  auto apply_name = [&](const MessageRecord& r, const FileEntry& file) -> std::expected<void, LmdbError> {
    if (file.in_new == r.in_new && file.name == r.file_name) return {};
    MessageRecord after = r;
    after.in_new = file.in_new;
    after.file_name = file.name;
    maildir::FileName parsed = maildir::parse(file.name);
    after.flags = parsed.flags;
    after.keywords = parsed.keywords;
    if (after.flags != r.flags || after.keywords != r.keywords) {
      auto next = modseq();
      if (!next) return std::unexpected(next.error());
      after.modseq = *next;
    }
    return index::update(txn, meta, r, after);
  };
  for (const auto& [r, file] : renamed)
    if (auto done = apply_name(r, file); !done) return done;
  std::erase_if(missing, [&](const MessageRecord& r) { return path_exists(message_path(r)); });
  // A listing taken during renames misses files: look again before expunging.
  if (!missing.empty()) {
    auto again = scan(dir_);
    for (const auto& r : missing) {
      auto found = again.find(r.file_key);
      if (found != again.end()) {
        if (auto done = apply_name(r, found->second); !done) return done;
        files.erase(r.file_key);
      } else {
        auto next = modseq();
        if (!next) return std::unexpected(next.error());
        if (auto removed = index::remove(txn, meta, r, *next); !removed) return removed;
      }
    }
  }

  // 4. New files: the UID the UID list gave them, or a new one. Listed
  // files go first, in UID order, then the others in key order: a sync that
  // takes several rounds (or leaves a file unreadable for now) never makes
  // a UID visible below one an earlier round showed.
  std::unordered_map<std::string_view, const uidlist::Entry*> lines;  // key -> its last line in the UID list
  if (!files.empty())
    for (const auto& e : contents->entries) lines[e.key] = &e;
  struct Candidate {
    const FileMap::value_type* file;
    const uidlist::Entry* line;  // nullptr: not listed
  };
  std::vector<Candidate> candidates;
  for (const auto* entry : in_key_order(files)) {
    auto known = index::find_uid(txn, entry->first);
    if (!known) return std::unexpected(known.error());
    if (*known) continue;
    auto it = lines.find(entry->first);
    candidates.push_back({entry, it == lines.end() ? nullptr : it->second});
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if ((a.line == nullptr) != (b.line == nullptr)) return b.line == nullptr;
    return a.line != nullptr && a.line->uid < b.line->uid;
  });
  std::vector<uidlist::Entry> appended;
  std::size_t imported = 0;
  bool more = false;
  bool unreadable = false;  // a file on disk was left unindexed this time
  for (const Candidate& candidate : candidates) {
    const auto& [key, file] = *candidate.file;
    if (imported == kImportBatch) {
      more = true;
      break;
    }
    bool listed_free = false;
    if (candidate.line != nullptr) {
      auto holder = index::find_record(txn, candidate.line->uid);
      if (!holder) return std::unexpected(holder.error());
      listed_free = !*holder;
    }
    auto made = read_for_index(dir_, key, file, listed_free ? candidate.line->uid : meta.uidnext);
    if (!made) {
      unreadable = true;  // gone since the listing (the next sync sees it), or no message
      continue;
    }
    MessageRecord& r = made->record;
    // One MODSEQ each, ascending in import order (listed files by UID): the
    // order in which another server stored them.
    auto next = next_modseq(dir_, meta);
    if (!next) return std::unexpected(next.error());
    r.modseq = *next;
    if (candidate.line != nullptr) {
      r.guid = uidlist::guid_of(*candidate.line);  // only copies carry one
      r.pop3_uidl = uidlist::pop3_uidl_of(*candidate.line);  // only migrated messages carry one
    }
    if (!listed_free) {
      ++meta.uidnext;
      appended.push_back(uidlist::entry_for(r.uid, key, r.guid, r.pop3_uidl));
    }
    if (auto inserted = index::insert(txn, meta, r, made->analysis); !inserted) return inserted;
    ++imported;
  }
  if (imported > 0) {
    auto merged = index::merge_pending(txn, kMergeBatch);
    if (!merged) return std::unexpected(merged.error());
  }
  if (!appended.empty()) {
    auto end = uidlist::append(uidlist_file(), appended);
    if (!end) {
      error = error_from(end.error(), "append " + uidlist_file().string());
      return std::unexpected(carry(error));
    }
    meta.uidlist_offset = *end;
  }
  // Drop the lines of expunged messages once they are most of the file:
  // only when every file on disk is in the index, as the rewrite keeps the
  // index's messages alone. A line of a file not yet imported (the next
  // round's, one unreadable now) is that file's UID: dropping it would give
  // the file a new UID (invariant 2).
  if (!more && !unreadable && contents->entries.size() > 2 * static_cast<std::size_t>(meta.messages) + 1000) {
    std::vector<uidlist::Entry> live;
    auto collected = index::for_each_record(txn, 1, [&](const MessageRecord& r) {
      live.push_back(uidlist::entry_for(r.uid, r.file_key, r.guid, r.pop3_uidl));
      return true;
    });
    if (!collected) return collected;
    uidlist::Header header = contents->header;
    header.next_uid = meta.uidnext;
    auto written = uidlist::rewrite(uidlist_file(), header, live);
    if (written) {
      meta.uidlist_inode = written->first;
      meta.uidlist_offset = written->second;
    }
  }
  // Marks: the directory times the listing saw. A foreign change within the
  // same clock tick after the listing would not move them; the periodic
  // full sync (sync()) catches that.
  meta.new_mtime_ns = more ? 0 : new_mtime;
  meta.cur_mtime_ns = more ? 0 : cur_mtime;
  if (more) error.kind = ErrorKind::not_possible;  // tells sync() to run another round
  return index::write_meta(txn, meta);
}

Result<FolderMeta> Folder::sync(bool full) {
  std::call_once(leftovers_removed_, [this] { remove_leftovers(); });
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  index::Env& env = **env_handle;
  FolderMeta meta;
  bool damaged = false;
  auto read = env.read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) {
      damaged = m.error().code == MDB_CORRUPTED;
      return damaged ? std::expected<void, LmdbError>{} : std::unexpected(m.error());
    }
    meta = *m;
    return {};
  });
  if (!read) return std::unexpected(error_from(read.error()));
  if (damaged) full = true;
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const bool due = now - last_full_sync_.load() >= full_sync_interval_.count();
  // The index is in step when the UID list and both directories are as its
  // last sync or commit left them.
  auto in_step = [&](const FolderMeta& m) {
    struct stat st{};
    return m.uidvalidity != 0 && ::stat(uidlist_file().c_str(), &st) == 0 && st.st_ino == m.uidlist_inode &&
           static_cast<std::uint64_t>(st.st_size) == m.uidlist_offset && m.new_mtime_ns != 0 &&
           mtime_ns(dir_ / "new") == m.new_mtime_ns && mtime_ns(dir_ / "cur") == m.cur_mtime_ns;
  };
  if (!full && in_step(meta)) {
    if (due) schedule_full_sync();
    return meta;
  }
  if (auto made = ensure_directories(); !made) return std::unexpected(made.error());
  for (;;) {
    Error problem{ErrorKind::internal, {}};
    bool scanned = false;
    std::size_t waiting = 0;
    WriteIntent intent(*this);
    auto written = env.write([&](Txn& txn) -> std::expected<void, LmdbError> {
      problem = Error{ErrorKind::internal, {}};
      auto m = meta_or_reset(txn, dir_);
      if (!m) return std::unexpected(m.error());
      meta = *m;
      // A delivery of this process or another one may have been between its
      // renames and its commit when the check above looked; under the write
      // lock it has committed, and the index may be in step after all.
      if (!full && in_step(meta)) return {};
      scanned = true;
      auto synced = full_sync(txn, meta, problem);
      if (synced) waiting = index::pending_count(txn);
      return synced;
    });
    if (!written) {
      if (!problem.detail.empty()) return std::unexpected(problem);
      return std::unexpected(error_from(written.error()));
    }
    if (!scanned) return meta;
    last_full_sync_ = now;
    publish(meta);
    announce(meta.highest_modseq);
    // A sync that imported many messages (a rebuild) merged one batch of
    // them; the rest go in the background, so queries do not keep making
    // their sort entries.
    if (waiting >= kMergeThreshold) schedule_merge();
    if (problem.kind != ErrorKind::not_possible) return meta;
  }
}

Result<Appended> Folder::add(std::vector<NewMessage> messages, bool deliver,
                             const std::vector<std::filesystem::path>& links) {
  // The disk filled up and the reserve is being spent on letting users
  // make room: new mail waits (the sender retries).
  if (reserve_->short_of_room())
    return std::unexpected(Error{ErrorKind::temporary, "the mail file system is full (disk_reserve in use)"});
  auto pending = std::make_shared<Pending>();
  pending->deliver = deliver;
  std::int64_t now = now_seconds();
  for (NewMessage& m : messages) {
    if (m.internal_date == 0) m.internal_date = now;
    std::uint64_t mask = 0;
    if (!m.flags.keywords.empty()) {
      auto made = keyword_mask(m.flags.keywords, true);
      if (!made) return std::unexpected(made.error());
      mask = *made;
    }
    pending->keyword_masks.push_back(mask);
  }
  // Each file is written and its writeback started, then the messages are
  // analysed while the disk works, then the files are fsynced: this thread
  // does all of it, with no hand-off to another for a single message.
  std::optional<Error> failure;
  auto failed = [&](std::size_t i, std::error_code ec) {
    if (!failure) failure = error_from(ec, "write " + (dir_ / "tmp" / pending->names[i]).string());
  };
  std::vector<bool> written(messages.size());
  std::vector<std::shared_ptr<maildir::NewFile>> started(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const NewMessage& m = messages[i];
    std::string name = maildir::unique_name(config_.host_name, m.data.size(), index::vsize_of(m.data));
    fs::path path = dir_ / "tmp" / name;
    pending->names.push_back(std::move(name));
    if (auto fault = injected_fault(FaultPoint::write_message)) {
      failed(i, *fault);
      continue;
    }
    // A link shares the durable bytes (and the mtime, the INTERNALDATE) of
    // the source; if the source moved meanwhile or lives elsewhere, write.
    if (i < links.size() && ::link(links[i].c_str(), path.c_str()) == 0) {
      written[i] = true;
      continue;
    }
    auto file = maildir::NewFile::start(path, m.data, m.internal_date);
    if (!file) {
      failed(i, file.error());
      continue;
    }
    started[i] = std::make_shared<maildir::NewFile>(std::move(*file));
  }
  if (!failure)
    for (const NewMessage& m : messages) pending->analyses.push_back(index::analyze(m.data, m.internal_date));
  // The first file's fsync here, the others' side by side on flushers.
  std::vector<std::pair<std::size_t, std::future<std::error_code>>> finishing;
  for (std::size_t i = 1; i < started.size(); ++i)
    if (started[i]) finishing.emplace_back(i, flusher().submit([file = started[i]] { return file->finish(); }));
  if (!started.empty() && started[0]) {
    auto ec = started[0]->finish();
    written[0] = !ec;
    if (ec) failed(0, ec);
  }
  for (auto& [i, finished] : finishing) {
    auto ec = finished.get();
    written[i] = !ec;
    if (ec) failed(i, ec);
  }
  if (failure) {
    for (std::size_t i = 0; i < written.size(); ++i)
      if (written[i]) ::unlink((dir_ / "tmp" / pending->names[i]).c_str());
    return std::unexpected(*failure);
  }
  pending->messages = std::move(messages);

  // Group commit: a committer takes everything queued meanwhile into one
  // directory flush and one index transaction. It hands each deliverer its
  // UIDs and the batch's flushes once its files are renamed and its UIDs
  // listed; the deliverer answers when those flushes end, while the index
  // commit may still be running (or waiting for the next batch).
  std::unique_lock lock(mutex_);
  auto arrived = std::chrono::steady_clock::now();
  pending->follows_closely = last_arrival_ && arrived - *last_arrival_ < commit_delay_;
  last_arrival_ = arrived;
  queue_.push_back(pending);
  if (!committing_) {
    committing_ = true;
    committer().submit([self = shared_from_this()] {
      self->run_commits();
      return std::error_code();
    });
  } else {
    more_.notify_all();
  }
  done_.wait(lock, [&] { return pending->done; });
  lock.unlock();
  // Indexed perhaps, but not known to be durable: say no (the sender
  // retries; a duplicate is better than a loss).
  for (auto& flush : pending->flushes)
    if (auto ec = flush.get()) return std::unexpected(error_from(ec, "flush " + dir_.string()));
  return std::move(pending->result);
}

void Folder::run_commits() {
  std::unique_lock lock(mutex_);
  while (!queue_.empty()) {
    std::vector<std::shared_ptr<Pending>> batch(queue_.begin(), queue_.end());
    queue_.clear();
    lock.unlock();
    // Nothing may leave the deliverers waiting: an exception (no memory) is
    // their error.
    Result<void> committed;
    try {
      committed = commit_batch(batch);
    } catch (const std::exception& e) {
      committed = std::unexpected(Error{ErrorKind::temporary, std::string("group commit: ") + e.what()});
    }
    lock.lock();
    for (auto& p : batch) {
      if (p->done) continue;  // handed out with its flushes
      p->result = std::unexpected(committed ? Error{ErrorKind::internal, "batch left unanswered"} : committed.error());
      p->done = true;
    }
    done_.notify_all();
  }
  committing_ = false;
  done_.notify_all();
}

Folder::WriteIntent::WriteIntent(Folder& folder) : folder_(folder) {
  std::lock_guard lock(folder_.mutex_);
  ++folder_.writers_waiting_;
  folder_.more_.notify_all();
}

Folder::WriteIntent::~WriteIntent() {
  std::lock_guard lock(folder_.mutex_);
  --folder_.writers_waiting_;
}

void Folder::wait_for_commits() {
  WriteIntent intent(*this);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return !committing_; });
}

void Folder::hand_out(std::vector<std::shared_ptr<Pending>>& batch,
                      const std::vector<std::shared_future<std::error_code>>& flushes) {
  {
    std::lock_guard lock(mutex_);
    for (auto& p : batch) {
      p->flushes = flushes;
      p->done = true;
    }
  }
  done_.notify_all();
}

bool Folder::next_round(std::vector<std::shared_ptr<Pending>>& round, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  more_.wait_until(lock, until, [this] { return !queue_.empty() || writers_waiting_ > 0; });
  if (queue_.empty() || writers_waiting_ > 0) return false;
  round.assign(queue_.begin(), queue_.end());
  queue_.clear();
  return true;
}

Result<void> Folder::commit_batch(std::vector<std::shared_ptr<Pending>>& batch) {
  // A round: the deliveries that queued together. The first is `batch`; a
  // stream of deliveries to this folder adds later rounds to the same index
  // transaction (StoreConfig::commit_delay).
  struct Round {
    std::vector<std::shared_ptr<Pending>> batch;
    std::vector<std::pair<fs::path, fs::path>> moves;  // tmp/ -> new/ or cur/
    bool any_new = false, any_cur = false;
    std::vector<std::shared_future<std::error_code>> flushes;  // its directories' and the UID list's
    std::vector<MessageRecord> records;
    // Messages the UID list's tail names that are not this round's (see
    // take_uids): indexed before the round's own.
    std::vector<ImportedFile> foreign;
    FolderMeta at_hand_out;  // the index's meta once its UIDs were taken
  };
  // Final names: delivered mail goes to new/, appended mail to cur/ with its flags.
  auto prepare = [this](std::vector<std::shared_ptr<Pending>> pendings) {
    Round round;
    round.batch = std::move(pendings);
    for (auto& pending : round.batch) {
      for (std::size_t i = 0; i < pending->names.size(); ++i) {
        std::string& name = pending->names[i];
        fs::path from = dir_ / "tmp" / name;
        if (pending->deliver) {
          round.any_new = true;
          round.moves.emplace_back(from, dir_ / "new" / name);
        } else {
          maildir::FileName parsed = maildir::parse(name);
          parsed.flags = pending->messages[i].flags.system;
          parsed.keywords = pending->keyword_masks[i];
          name = maildir::with_flags(parsed);
          round.any_cur = true;
          round.moves.emplace_back(from, dir_ / "cur" / name);
        }
      }
    }
    return round;
  };
  auto undo = [this](const Round& round) {
    for (const auto& [from, to] : round.moves) {
      ::unlink(from.c_str());
      ::unlink(to.c_str());
    }
    maildir::fsync_directory(dir_ / "new");
    maildir::fsync_directory(dir_ / "cur");
  };
  std::vector<Round> rounds;
  rounds.push_back(prepare(batch));
  auto env_handle = env();
  if (!env_handle) {
    undo(rounds.front());
    return std::unexpected(env_handle.error());
  }
  // Everything happens inside the folder's write transaction, which every
  // Roost process takes before touching the folder: a full sync elsewhere
  // never sees these files before they have their UIDs. A round is durable
  // once its files are in new/ or cur/ with those directories flushed and
  // its UIDs are in the flushed UID list: its deliverers wait for those
  // flushes, not for the index, which is a cache of them. The inserts and
  // the commit run beside the directory flush (a lost or failed commit is
  // redone from the UID list by the next sync).
  //
  // A flush runs on a flusher, or (`here`) on this thread, which has
  // nothing else to do before the hand-out.
  auto flush = [](Round& round, std::function<std::error_code()> job, bool here = false) {
    if (auto failed = injected_fault(FaultPoint::flush)) job = [ec = *failed] { return ec; };
    if (!here) {
      round.flushes.push_back(flusher().submit(std::move(job)).share());
      return;
    }
    std::promise<std::error_code> ended;
    ended.set_value(job());
    round.flushes.push_back(ended.get_future().share());
  };
  Error problem;
  FolderMeta meta;
  std::size_t waiting_words = 0;
  std::int64_t now = now_seconds();
  std::size_t handed_out = 0;  // rounds answered: from here on, redo rather than undo
  FolderMeta before_batch;     // the index's meta before the first round
  // 3. The index, while the flushes run.
  auto index_round = [&](Txn& txn, const Round& round) -> std::expected<void, LmdbError> {
    for (const auto& file : round.foreign)
      if (auto inserted = index::insert(txn, meta, file.record, file.analysis); !inserted) return inserted;
    std::size_t at = 0;
    for (const auto& pending : round.batch) {
      for (std::size_t i = 0; i < pending->names.size(); ++i, ++at) {
        if (auto inserted = index::insert(txn, meta, round.records[at], pending->analyses[i]); !inserted)
          return inserted;
      }
    }
    return {};
  };
  auto finish = [&](Txn& txn) -> std::expected<void, LmdbError> {
    waiting_words = index::pending_count(txn);
    if (auto failed = injected_fault(FaultPoint::index_commit_after_answer))
      return std::unexpected(LmdbError{failed->value(), "injected index failure"});
    return index::write_meta(txn, meta);
  };
  // Lines in the UID list's tail for files that are not this round's: a
  // delivery of another process whose index commit was lost (or redone
  // elsewhere), or Dovecot's. Their UIDs are below the round's, so they are
  // indexed with it: once a session has been shown a UID, no lower one may
  // appear (a client fetches only above the highest it has seen).
  auto index_foreign_lines = [&](Txn& txn, const uidlist::Contents& tail, Round& round,
                                 Modseq modseq) -> std::expected<void, LmdbError> {
    round.foreign.clear();
    std::set<std::string_view> own, seen;
    for (const auto& pending : round.batch)
      for (const auto& name : pending->names) own.insert(std::string_view(name).substr(0, name.find(':')));
    std::vector<const uidlist::Entry*> unknown;
    for (auto it = tail.entries.rbegin(); it != tail.entries.rend(); ++it) {  // a key's last line counts
      if (own.contains(it->key) || !seen.insert(it->key).second) continue;
      auto known = index::find_uid(txn, it->key);
      if (!known) return std::unexpected(known.error());
      if (*known) continue;
      auto holder = index::find_record(txn, it->uid);
      if (!holder) return std::unexpected(holder.error());
      if (!*holder) unknown.push_back(&*it);
    }
    if (unknown.empty()) return {};
    // A few are looked for one by one; many (Dovecot imported a batch) in
    // one listing.
    std::optional<FileMap> listing;
    if (unknown.size() > 4) listing = scan(dir_);
    for (auto it = unknown.rbegin(); it != unknown.rend(); ++it) {
      const uidlist::Entry& line = **it;
      std::optional<FileEntry> file;
      if (listing) {
        if (auto found = listing->find(line.key); found != listing->end()) file = found->second;
      } else {
        file = find_file(dir_, line.key);
      }
      if (!file) continue;  // expunged since it was listed
      auto made = read_for_index(dir_, line.key, *file, line.uid);
      if (!made) continue;
      made->record.modseq = modseq;
      made->record.guid = uidlist::guid_of(line);
      made->record.pop3_uidl = uidlist::pop3_uidl_of(line);
      round.foreign.push_back(std::move(*made));
    }
    return {};
  };
  // 1. and 2. for one round, which is answered at its end.
  auto take_uids = [&](Txn& txn, Round& round) -> std::expected<void, LmdbError> {
    std::int64_t new_before = mtime_ns(dir_ / "new"), cur_before = mtime_ns(dir_ / "cur");
    // 1. Into new/ or cur/, never replacing a file (a retried attempt finds
    // its files already there).
    for (const auto& [from, to] : round.moves) {
      auto ec = injected_fault(FaultPoint::rename_message).value_or(std::error_code());
      if (!ec) ec = maildir::rename_noreplace(from, to);
      if (ec) {
        if (ec == std::errc::no_such_file_or_directory && path_exists(to)) continue;
        problem = error_from(ec, "rename into " + to.string());
        return std::unexpected(carry(problem));
      }
    }
    for (auto [used, sub] : {std::pair{round.any_new, "new"}, std::pair{round.any_cur, "cur"}}) {
      if (used) flush(round, [path = dir_ / sub] { return maildir::fsync_directory(path); });
    }
    // 2. UIDs and the UID list, from the index's meta, or for a later round
    // from `meta` as the round before left it.
    if (handed_out == 0) {
      auto m = index::read_meta(txn);
      if (!m) return std::unexpected(m.error());
      before_batch = meta = *m;
    }
    // From reading the list's tail to appending to it, Dovecot (if it serves
    // the folder too) assigns no UID.
    auto dovecot_lock = lock_for_dovecot(dir_, uidlist_file());
    if (!dovecot_lock) {
      problem = dovecot_lock.error();
      return std::unexpected(carry(problem));
    }
    // Lines another process (or an earlier attempt) appended: their UIDs are
    // taken, and an earlier attempt's lines for these files keep theirs.
    auto tail = uidlist::read(uidlist_file(), std::pair{meta.uidlist_inode, meta.uidlist_offset});
    if (!tail) {
      problem = error_from(tail.error(), "read " + uidlist_file().string());
      return std::unexpected(carry(problem));
    }
    std::unordered_map<std::string, Uid> listed;
    for (const auto& e : tail->entries) {
      meta.uidnext = std::max(meta.uidnext, e.uid + 1);
      listed.emplace(e.key, e.uid);
    }
    meta.uidnext = std::max(meta.uidnext, tail->header.next_uid);
    meta.uidlist_inode = tail->inode;
    meta.keywords = keywords();
    auto modseq = next_modseq(dir_, meta);
    if (!modseq) return std::unexpected(modseq.error());
    if (auto found = index_foreign_lines(txn, *tail, round, *modseq); !found) return found;
    std::vector<uidlist::Entry> entries;
    round.records.clear();
    for (auto& pending : round.batch) {
      Appended appended;
      appended.uidvalidity = meta.uidvalidity;
      for (std::size_t i = 0; i < pending->names.size(); ++i) {
        MessageRecord r;
        r.flags = pending->deliver ? 0 : pending->messages[i].flags.system;
        r.keywords = pending->keyword_masks[i];
        r.internal_date = pending->messages[i].internal_date;
        r.save_date = now;
        r.size = pending->messages[i].data.size();
        r.vsize = pending->analyses[i].vsize;
        r.modseq = *modseq;
        r.in_new = pending->deliver;
        r.file_name = pending->names[i];
        r.file_key = maildir::parse(r.file_name).key;
        r.guid = pending->messages[i].guid;
        if (auto before = listed.find(r.file_key); before != listed.end()) {
          r.uid = before->second;
        } else {
          r.uid = meta.uidnext++;
          entries.push_back(uidlist::entry_for(r.uid, r.file_key, r.guid));
        }
        appended.uids.push_back(r.uid);
        round.records.push_back(std::move(r));
      }
      pending->result = std::move(appended);
    }
    std::uint64_t end = tail->end;  // of the UID list with the round's lines
    if (!entries.empty()) {
      auto append_fault = injected_fault(FaultPoint::uidlist_append);
      auto appended = append_fault ? std::expected<std::uint64_t, std::error_code>(std::unexpected(*append_fault))
                                   : uidlist::append(uidlist_file(), entries, false);
      if (!appended) {
        problem = error_from(appended.error(), "append " + uidlist_file().string());
        return std::unexpected(carry(problem));
      }
      end = *appended;
    }
    dovecot_lock->reset();
    flush(round, [path = uidlist_file()] { return maildir::fsync_file(path); }, true);
    if (auto failed = injected_fault(FaultPoint::index_commit))
      return std::unexpected(LmdbError{failed->value(), "injected index failure"});
    // Nothing is undone from here: the deliverers answer when the flushes
    // end, and the index follows.
    std::int64_t bytes = 0, count = 0;
    for (auto& p : round.batch) {
      for (const auto& message : p->messages) {
        bytes += static_cast<std::int64_t>(message.data.size());
        ++count;
      }
    }
    quota::add(root_, bytes, count);
    ++handed_out;
    hand_out(round.batch, round.flushes);
    meta.uidlist_offset = end;
    // Our own renames moved the directory times; if the index was in step
    // before them, it still is.
    if (meta.new_mtime_ns == new_before && round.any_new) meta.new_mtime_ns = mtime_ns(dir_ / "new");
    if (meta.cur_mtime_ns == cur_before && round.any_cur) meta.cur_mtime_ns = mtime_ns(dir_ / "cur");
    round.at_hand_out = meta;
    return index_round(txn, round);
  };
  // While deliveries to this folder follow each other closely, the
  // transaction stays open for the next ones (up to commit_delay between
  // two, and never while another writer of this process waits): one index
  // commit and its flush for many messages. Readers see the messages when
  // the transaction commits.
  const auto delay = commit_delay_;
  struct DelaySlot {
    bool held = false;
    ~DelaySlot() {
      if (held) delayed_commits.fetch_sub(1);
    }
  } slot;
  if (delay.count() > 0 && batch.back()->follows_closely) {
    if (delayed_commits.fetch_add(1) < kMostDelayedCommits) slot.held = true;
    else delayed_commits.fetch_sub(1);
  }
  const bool stream = slot.held;
  auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
    problem = Error{};
    if (handed_out > 0) {
      // Run again after the hand-out because the map grew: the inserts once
      // more, unless another process wrote in between (the next sync then
      // indexes the rounds from the UID list).
      auto stored = index::read_meta(txn);
      if (!stored) return std::unexpected(stored.error());
      if (stored->uidlist_offset != before_batch.uidlist_offset || stored->uidnext != before_batch.uidnext ||
          stored->highest_modseq != before_batch.highest_modseq)
        return std::unexpected(LmdbError{-1, "index written by another process during a retry"});
      for (std::size_t r = 0; r < handed_out; ++r) {
        meta = rounds[r].at_hand_out;
        if (auto inserted = index_round(txn, rounds[r]); !inserted) return inserted;
      }
      return finish(txn);
    }
    // A folder never indexed (or whose index was deleted) gets its UID list
    // and index first, while the new files are still in tmp/.
    auto initial = meta_or_reset(txn, dir_);
    if (!initial) return std::unexpected(initial.error());
    if (initial->uidvalidity == 0) {
      FolderMeta fresh = *initial;
      if (auto synced = full_sync(txn, fresh, problem); !synced) return synced;
      problem = Error{};
    }
    if (auto taken = take_uids(txn, rounds.front()); !taken) return taken;
    const auto last_call = std::chrono::steady_clock::now() + kCommitDelaysAtMost * delay;
    std::vector<std::shared_ptr<Pending>> next;
    while (stream &&
           next_round(next, std::min(last_call, std::chrono::steady_clock::now() + delay))) {
      batch.insert(batch.end(), next.begin(), next.end());  // run_commits answers them if all fails
      rounds.push_back(prepare(std::move(next)));
      next.clear();
      const std::size_t answered = handed_out;
      const FolderMeta before_round = meta;
      if (auto taken = take_uids(txn, rounds.back()); !taken) {
        // A later round that failed before its answer fails alone; the
        // earlier ones commit. Past its answer (an index error), the whole
        // transaction is redone or left to the next sync.
        if (handed_out > answered) return taken;
        undo(rounds.back());
        Error failed = problem.detail.empty() ? error_from(taken.error()) : problem;
        {
          std::lock_guard lock(mutex_);
          for (auto& p : rounds.back().batch) {
            p->result = std::unexpected(failed);
            p->done = true;
          }
        }
        done_.notify_all();
        rounds.pop_back();
        problem = Error{};
        // Before its answer the round wrote nothing to the index: the state
        // to commit is the one the round before left.
        meta = before_round;
        break;
      }
    }
    return finish(txn);
  }, false);  // the UID list, flushed before, can redo this commit
  // The flushes end before anything is undone or announced.
  std::error_code flushed;
  for (auto& round : rounds) {
    for (auto& f : round.flushes) {
      std::error_code ec = f.get();
      if (ec && !flushed) flushed = ec;
    }
  }
  if (!written) {
    if (handed_out > 0) return {};  // the next sync indexes the rounds from the UID list
    undo(rounds.front());
    return std::unexpected(problem.detail.empty() ? error_from(written.error()) : problem);
  }
  commits.fetch_add(1, std::memory_order_relaxed);
  if (flushed) return std::unexpected(error_from(flushed, "flush " + dir_.string()));
  publish(meta);
  announce(meta.highest_modseq);
  if (waiting_words >= kMergeThreshold) schedule_merge();
  return {};
}

Result<FolderView::StoreResult> Folder::store(const std::vector<Uid>& uids, StoreMode mode, const Flags& flags,
                                              std::optional<Modseq> unchanged_since) {
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  // A keyword is registered only for a STORE that may set it on a message:
  // not when every message is gone or fails UNCHANGEDSINCE (RFC 7162 §3.1.3).
  bool may_change = false;
  if (mode != StoreMode::remove && !flags.keywords.empty()) {
    auto looked = (*env_handle)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
      for (Uid uid : uids) {
        auto found = index::find_record(txn, uid);
        if (!found) return std::unexpected(found.error());
        if (*found && (!unchanged_since || (*found)->modseq <= *unchanged_since)) {
          may_change = true;
          break;
        }
      }
      return {};
    });
    if (!looked) return std::unexpected(error_from(looked.error()));
  }
  auto mask = keyword_mask(flags.keywords, may_change);
  if (!mask) return std::unexpected(mask.error());
  FolderView::StoreResult result;
  FolderMeta meta;
  auto apply = [&](std::uint32_t system, std::uint64_t keywords, std::uint32_t& out_system, std::uint64_t& out_keywords) {
    switch (mode) {
      case StoreMode::replace: out_system = flags.system; out_keywords = *mask; break;
      case StoreMode::add: out_system = system | flags.system; out_keywords = keywords | *mask; break;
      case StoreMode::remove: out_system = system & ~flags.system; out_keywords = keywords & ~*mask; break;
    }
  };
  WriteIntent intent(*this);
  auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
    result = {};
    std::int64_t cur_before = mtime_ns(dir_ / "cur"), new_before = mtime_ns(dir_ / "new");
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    meta = *m;
    auto modseq = next_modseq(dir_, meta);
    if (!modseq) return std::unexpected(modseq.error());
    if (*mask != 0) meta.keywords = keywords();
    bool touched_new = false;
    for (Uid uid : uids) {
      auto found = index::find_record(txn, uid);
      if (!found) return std::unexpected(found.error());
      if (!*found) continue;
      const MessageRecord& before = **found;
      if (unchanged_since && before.modseq > *unchanged_since) {
        result.modified.push_back(uid);
        continue;
      }
      MessageRecord after = before;
      apply(before.flags, before.keywords, after.flags, after.keywords);
      if (after.flags == before.flags && after.keywords == before.keywords) continue;
      // Rename to the new flags; if someone else renamed it meanwhile, find
      // it by its key and apply the change on top of the flags it has now.
      fs::path from = message_path(before);
      maildir::FileName name = maildir::parse(before.file_name);
      for (int attempt = 0;; ++attempt) {
        name.flags = after.flags;
        name.keywords = after.keywords;
        std::string target = maildir::with_flags(name);
        fs::path to = dir_ / "cur" / target;
        std::error_code ec;
        if (from != to) ec = maildir::rename_noreplace(from, to);
        if (!ec || ec == std::errc::file_exists) {
          touched_new = touched_new || before.in_new;
          after.in_new = false;
          after.file_name = target;
          break;
        }
        if (ec != std::errc::no_such_file_or_directory || attempt == 3) {
          return std::unexpected(LmdbError{ec.value(), "rename " + from.string() + ": " + ec.message()});
        }
        auto moved = find_file(dir_, before.file_key);
        if (!moved) break;  // expunged by someone else: the next sync removes it
        from = dir_ / (moved->in_new ? "new" : "cur") / moved->name;
        name = maildir::parse(moved->name);
        apply(name.flags, name.keywords, after.flags, after.keywords);
      }
      if (!path_exists(dir_ / "cur" / after.file_name)) continue;
      after.modseq = *modseq;
      if (auto updated = index::update(txn, meta, before, after); !updated) return updated;
      result.changed.push_back(uid);
    }
    if (meta.cur_mtime_ns == cur_before) meta.cur_mtime_ns = mtime_ns(dir_ / "cur");
    if (touched_new && meta.new_mtime_ns == new_before) meta.new_mtime_ns = mtime_ns(dir_ / "new");
    return index::write_meta(txn, meta);
  });
  if (!written) return std::unexpected(error_from(written.error()));
  if (!result.changed.empty()) {
    publish(meta);
    announce(meta.highest_modseq);
    if (config_.fsync_changes)
      if (auto ec = flush_directories()) return std::unexpected(error_from(ec, "flush " + dir_.string()));
  }
  return result;
}

Result<std::vector<Uid>> Folder::expunge(const std::optional<std::vector<Uid>>& only, ExpungeWhich which) {
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  std::vector<Uid> removed;
  std::int64_t removed_bytes = 0;
  FolderMeta meta;
  WriteIntent intent(*this);
  auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
    removed.clear();
    std::int64_t cur_before = mtime_ns(dir_ / "cur"), new_before = mtime_ns(dir_ / "new");
    removed_bytes = 0;
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    meta = *m;
    std::vector<Uid> targets;
    if (which == ExpungeWhich::listed && only) {
      targets = *only;
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    } else {
      auto deleted = index::uids_with_flag(txn, 2);  // \Deleted is bit 2
      if (!deleted) return std::unexpected(deleted.error());
      if (only) {
        std::set_intersection(deleted->begin(), deleted->end(), only->begin(), only->end(),
                              std::back_inserter(targets));
      } else {
        targets = *deleted;
      }
    }
    if (targets.empty()) return {};
    auto modseq = next_modseq(dir_, meta);
    if (!modseq) return std::unexpected(modseq.error());
    for (Uid uid : targets) {
      auto found = index::find_record(txn, uid);
      if (!found) return std::unexpected(found.error());
      if (!*found) continue;
      fs::path path = message_path(**found);
      if (::unlink(path.c_str()) != 0 && errno == ENOENT) {
        if (auto moved = find_file(dir_, (*found)->file_key))
          ::unlink((dir_ / (moved->in_new ? "new" : "cur") / moved->name).c_str());
      }
      if (auto r = index::remove(txn, meta, **found, *modseq); !r) return r;
      removed.push_back(uid);
      removed_bytes += static_cast<std::int64_t>((*found)->size);
    }
    if (meta.cur_mtime_ns == cur_before) meta.cur_mtime_ns = mtime_ns(dir_ / "cur");
    if (meta.new_mtime_ns == new_before) meta.new_mtime_ns = mtime_ns(dir_ / "new");
    return index::write_meta(txn, meta);
  });
  if (!written) return std::unexpected(error_from(written.error()));
  if (!removed.empty()) {
    quota::add(root_, -removed_bytes, -static_cast<std::int64_t>(removed.size()));
    publish(meta);
    announce(meta.highest_modseq);
    if (config_.fsync_changes)
      if (auto ec = flush_directories()) return std::unexpected(error_from(ec, "flush " + dir_.string()));
  }
  return removed;
}

std::error_code Folder::flush_directories() {
  for (const char* sub : {"cur", "new"})
    if (auto ec = maildir::fsync_directory(dir_ / sub)) return ec;
  return {};
}

void Folder::schedule_full_sync() {
  if (full_syncing_.exchange(true)) return;
  background().submit([self = shared_from_this()] {
    // A folder deleted or renamed meanwhile is left alone: a sync would make
    // its directories again.
    if (path_exists(self->dir_)) (void)self->sync(true);
    self->full_syncing_ = false;
    return std::error_code();
  });
}

void Folder::schedule_merge() {
  if (merging_.exchange(true)) return;
  // The pool's future is dropped: nobody waits for a merge.
  background().submit([self = shared_from_this()] {
    (void)self->merge_now();
    self->merging_ = false;
    return std::error_code();
  });
}

Result<void> Folder::merge_now() {
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  for (;;) {
    std::size_t merged = 0;
    auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
      auto n = index::merge_pending(txn, kMergeBatch);
      if (!n) return std::unexpected(n.error());
      merged = *n;
      return {};
    });
    if (!written) return std::unexpected(error_from(written.error()));
    if (merged < kMergeBatch) return {};
  }
}

Result<Uid> Folder::claim_recent() {
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  Uid first = 0;
  // Nothing to claim is the common case; it needs no write lock, which a
  // background full sync may hold for a while.
  bool any = true;
  auto looked = (*env_handle)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    first = m->first_recent;
    any = m->first_recent < m->uidnext;
    return {};
  });
  if (!looked) return std::unexpected(error_from(looked.error()));
  if (!any) return first;
  std::optional<FolderMeta> claimed;
  WriteIntent intent(*this);
  auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    first = m->first_recent;
    if (m->first_recent >= m->uidnext) return {};
    m->first_recent = m->uidnext;
    m->recent = 0;
    claimed = *m;
    return index::write_meta(txn, *m);
  });
  if (!written) return std::unexpected(error_from(written.error()));
  if (claimed) publish(*claimed);
  return first;
}

Result<std::string> Folder::mailbox_guid() {
  for (int attempt = 0;; ++attempt) {
    auto header = uidlist::read_header(uidlist_file());
    if (header && uidlist::usable_guid(header->guid)) return header->guid;
    if (!header && header.error() != std::errc::no_such_file_or_directory &&
        header.error() != std::errc::illegal_byte_sequence)
      return std::unexpected(error_from(header.error(), "read " + uidlist_file().string()));
    if (attempt == 2) return std::unexpected(Error{ErrorKind::internal, "no usable GUID in " + uidlist_file().string()});
    if (!header) {
      // No UID list yet (a folder never opened): the sync writes one.
      if (auto synced = sync(true); !synced) return std::unexpected(synced.error());
      continue;
    }
    // A list written by an older program (Courier's version 1, or a foreign
    // GUID): give it one of ours, under the folder's write transaction.
    auto env_handle = env();
    if (!env_handle) return std::unexpected(env_handle.error());
    Error problem;
    WriteIntent intent(*this);
    auto written = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
      auto dovecot_lock = lock_for_dovecot(dir_, uidlist_file());
      if (!dovecot_lock) {
        problem = dovecot_lock.error();
        return std::unexpected(carry(problem));
      }
      auto contents = uidlist::read(uidlist_file());
      if (!contents) {
        problem = error_from(contents.error(), "read " + uidlist_file().string());
        return std::unexpected(carry(problem));
      }
      if (uidlist::usable_guid(contents->header.guid)) return {};
      contents->header.guid = uidlist::new_guid();
      auto replaced = uidlist::rewrite(uidlist_file(), contents->header, contents->entries);
      if (!replaced) {
        problem = error_from(replaced.error(), "write " + uidlist_file().string());
        return std::unexpected(carry(problem));
      }
      auto meta = index::read_meta(txn);
      if (!meta) return std::unexpected(meta.error());
      // Only if the index had read all of it: else the next sync reads the rest.
      if (meta->uidlist_inode == contents->inode && meta->uidlist_offset == contents->end) {
        meta->uidlist_inode = replaced->first;
        meta->uidlist_offset = replaced->second;
        return index::write_meta(txn, *meta);
      }
      return {};
    });
    if (!written) {
      if (!problem.detail.empty()) return std::unexpected(problem);
      return std::unexpected(error_from(written.error()));
    }
  }
}

Result<void> Folder::rebuild() {
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  auto cleared = (*env_handle)->write([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    FolderMeta fresh;
    fresh.highest_modseq = std::max(m->highest_modseq, m->modseq_reserved);
    fresh.modseq_reserved = fresh.expunges_since = fresh.highest_modseq;
    fresh.first_recent = m->uidnext;
    if (auto c = index::clear(txn); !c) return c;
    return index::write_meta(txn, fresh);
  });
  if (!cleared) return std::unexpected(error_from(cleared.error()));
  auto synced = sync(true);
  if (!synced) return std::unexpected(synced.error());
  return {};
}

Result<std::vector<std::string>> Folder::verify() {
  // A delivery of this process answered before its index commit ended is
  // not a problem.
  wait_for_commits();
  std::vector<std::string> problems;
  auto contents = uidlist::read(uidlist_file());
  // A folder never opened (a new user's) has neither UID list nor index
  // yet: the first open makes both, and there is nothing to disagree.
  if (!contents && contents.error() == std::errc::no_such_file_or_directory) return problems;
  if (!contents) return std::unexpected(error_from(contents.error(), "read " + uidlist_file().string()));
  std::map<std::string, Uid> listed;
  for (const auto& e : contents->entries) listed[e.key] = e.uid;
  auto files = scan(dir_);
  auto env_handle = env();
  if (!env_handle) return std::unexpected(env_handle.error());
  auto read = (*env_handle)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto meta = index::read_meta(txn);
    if (!meta) return std::unexpected(meta.error());
    if (meta->uidvalidity != contents->header.uidvalidity)
      problems.push_back("UIDVALIDITY " + std::to_string(meta->uidvalidity) + " in the index, " +
                         std::to_string(contents->header.uidvalidity) + " in the UID list");
    std::uint32_t messages = 0, unseen = 0, deleted = 0;
    std::uint64_t size = 0;
    auto walked = index::for_each_record(txn, 1, [&](const MessageRecord& r) {
      ++messages;
      size += r.vsize;
      if (!(r.flags & index::flag::seen)) ++unseen;
      if (r.flags & index::flag::deleted) ++deleted;
      std::string uid = "UID " + std::to_string(r.uid);
      auto l = listed.find(r.file_key);
      if (l == listed.end()) problems.push_back(uid + ": not in the UID list");
      else if (l->second != r.uid) problems.push_back(uid + ": the UID list says " + std::to_string(l->second));
      if (r.uid >= meta->uidnext) problems.push_back(uid + ": not below UIDNEXT");
      auto f = files.find(r.file_key);
      if (f == files.end()) {
        if (!path_exists(message_path(r))) problems.push_back(uid + ": file missing");
      } else {
        maildir::FileName name = maildir::parse(f->second.name);
        if (name.flags != r.flags || name.keywords != r.keywords) problems.push_back(uid + ": flags differ from the file name");
        files.erase(f);
      }
      return true;
    });
    if (!walked) return walked;
    for (const auto* entry : in_key_order(files)) problems.push_back("file " + entry->second.name + ": not in the index");
    if (messages != meta->messages || unseen != meta->unseen || deleted != meta->deleted || size != meta->size)
      problems.push_back("counters differ from the messages");
    return {};
  });
  if (!read) return std::unexpected(error_from(read.error()));
  return problems;
}

}  // namespace roost::storage

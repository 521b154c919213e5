// Users, their folder trees, and the views sessions hold on folders.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "annotations.hpp"
#include "disk_reserve.hpp"
#include "folder.hpp"
#include "maildir.hpp"
#include "move_journal.hpp"
#include "quota.hpp"
#include "roost/index/object_id.hpp"
#include "roost/index/uid_positions.hpp"
#include "roost/storage/mailbox_name.hpp"

namespace roost::storage {

namespace fs = std::filesystem;
using index::LmdbError;
using index::Txn;

std::string_view describe(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return "no such folder or message";
    case ErrorKind::exists: return "folder already exists";
    case ErrorKind::bad_name: return "folder name not allowed";
    case ErrorKind::not_possible: return "not possible";
    case ErrorKind::has_children: return "folder has subfolders";
    case ErrorKind::over_quota: return "quota exceeded";
    case ErrorKind::too_big: return "message too big";
    case ErrorKind::limit: return "limit reached";
    case ErrorKind::expunged: return "message was expunged";
    case ErrorKind::temporary: return "temporary failure, try again later";
    case ErrorKind::internal: return "internal error";
  }
  return "error";
}

std::string_view special_use_attribute(SpecialUse use) {
  switch (use) {
    case SpecialUse::none: return "";
    case SpecialUse::drafts: return "\\Drafts";
    case SpecialUse::sent: return "\\Sent";
    case SpecialUse::trash: return "\\Trash";
    case SpecialUse::junk: return "\\Junk";
    case SpecialUse::archive: return "\\Archive";
    case SpecialUse::all: return "\\All";
    case SpecialUse::flagged: return "\\Flagged";
  }
  return "";
}

namespace {

constexpr std::string_view kSubscriptions = "subscriptions";
constexpr std::string_view kSpecialUse = "roost-special-use";

SpecialUse parse_special_use(std::string_view attribute) {
  for (auto use : {SpecialUse::drafts, SpecialUse::sent, SpecialUse::trash, SpecialUse::junk, SpecialUse::archive,
                   SpecialUse::all, SpecialUse::flagged})
    if (special_use_attribute(use) == attribute) return use;
  return SpecialUse::none;
}

Error bad_name(NameError e) { return {ErrorKind::bad_name, std::string(describe(e))}; }

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Store

struct Store::Impl {
  StoreConfig config;
  std::shared_ptr<DiskReserve> reserve;
  std::mutex mutex;
  // Folders stay known while idle (their sync times matter), up to a bound.
  std::map<fs::path, std::shared_ptr<Folder>> folders;

  std::shared_ptr<Folder> folder(const fs::path& root, const std::string& canonical) {
    fs::path dir = root / directory_name(canonical);
    std::lock_guard lock(mutex);
    auto& slot = folders[dir];
    if (slot) return slot;
    slot = std::make_shared<Folder>(config, reserve, root, dir, canonical);
    auto made = slot;
    if (folders.size() > 4 * config.open_index_limit + 64) {
      for (auto it = folders.begin(); it != folders.end();) {
        if (it->second.use_count() == 1) it = folders.erase(it);
        else ++it;
      }
    }
    return made;
  }

  void forget(const fs::path& dir) {
    std::lock_guard lock(mutex);
    folders.erase(dir);
  }
};

Store::Store(StoreConfig config) : impl_(std::make_shared<Impl>()) {
  impl_->config = std::move(config);
  index::EnvRegistry::instance().set_keep_idle(impl_->config.open_index_limit);
  // A name no user can have (user names never start with a dot).
  impl_->reserve = std::make_shared<DiskReserve>(impl_->config.mail_root / ".roost-reserve",
                                                 impl_->config.disk_reserve);
  index::EnvRegistry::instance().set_room_maker([reserve = impl_->reserve] { return reserve->release(); });
}
Store::~Store() {
  // A delivery is answered before its index commit ends; the commits end
  // before the store does, so that nothing writes after it.
  std::vector<std::shared_ptr<Folder>> known;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& [dir, folder] : impl_->folders) known.push_back(folder);
  }
  for (const auto& folder : known) folder->wait_for_commits();
}
const StoreConfig& Store::config() const { return impl_->config; }

// ---------------------------------------------------------------------------
// User

struct User::Impl {
  std::shared_ptr<Store::Impl> store;
  std::string name;
  // Kept as text: a std::filesystem::path also holds its parsed
  // components, a few hundred bytes for every logged-in session.
  std::string root_dir;
  fs::path root() const { return root_dir; }

  std::shared_ptr<Folder> folder(const std::string& canonical) { return store->folder(root(), canonical); }

  quota::Limits quota_limits() const {
    if (auto own = quota::read_limits(root())) return *own;
    return {store->config.quota_bytes, store->config.quota_messages};
  }

  bool folder_exists(const std::string& canonical) {
    if (is_inbox(canonical)) return true;
    struct stat st{};
    // lstat: a folder is a directory of the user's own, never a link (a link
    // ".X -> ../bob" would open another user's mail).
    return ::lstat((root() / directory_name(canonical)).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  Result<std::string> existing(std::string_view name) {
    auto canonical = canonical_name(name);
    if (!canonical) return std::unexpected(bad_name(canonical.error()));
    if (!folder_exists(*canonical)) return std::unexpected(Error{ErrorKind::not_found, *canonical});
    return *canonical;
  }

  std::vector<std::string> folder_names() {
    std::vector<std::string> out{"INBOX"};
    DIR* d = ::opendir(root().c_str());
    if (d == nullptr) return out;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view entry = e->d_name;
      if (entry.size() < 2 || entry[0] != '.' || entry == "..") continue;
      if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;  // a link is no folder
      auto name = name_from_directory(entry);
      if (!name || is_inbox(*name)) continue;
      out.push_back(*name);
    }
    ::closedir(d);
    std::sort(out.begin() + 1, out.end());
    return out;
  }

  // Held while the folder list, subscriptions or special-use attributes
  // change: each is read, changed and written back whole.
  Result<maildir::FileLock> lock_folders() {
    auto lock = maildir::FileLock::exclusive(root() / "roost-folders.lock");
    if (!lock) return std::unexpected(error_from(lock.error(), "lock " + (root() / "roost-folders.lock").string()));
    return std::move(*lock);
  }

  std::set<std::string> subscriptions() {
    std::set<std::string> out;
    for (const auto& line : read_lines(root() / kSubscriptions)) {
      auto utf8 = decode_mutf7(line);
      if (!utf8) continue;
      if (auto canonical = canonical_name(*utf8)) out.insert(*canonical);
    }
    return out;
  }

  Result<void> write_subscriptions(const std::set<std::string>& names) {
    std::string text;
    for (const auto& n : names) text += encode_mutf7(n) + "\n";
    if (auto ec = maildir::replace_file(root() / kSubscriptions, text)) return std::unexpected(error_from(ec, "subscriptions"));
    return {};
  }

  std::map<std::string, SpecialUse> special_uses() {
    std::map<std::string, SpecialUse> out;
    for (const auto& line : read_lines(root() / kSpecialUse)) {
      std::size_t space = line.find(' ');
      if (space == std::string::npos) continue;
      SpecialUse use = parse_special_use(line.substr(0, space));
      if (use != SpecialUse::none) out[line.substr(space + 1)] = use;
    }
    return out;
  }

  Result<void> write_special_uses(const std::map<std::string, SpecialUse>& uses) {
    std::string text;
    for (const auto& [name, use] : uses) text += std::string(special_use_attribute(use)) + " " + name + "\n";
    if (auto ec = maildir::replace_file(root() / kSpecialUse, text)) return std::unexpected(error_from(ec, "special use"));
    return {};
  }

  Result<void> make_folder(const std::string& canonical) {
    fs::path dir = root() / directory_name(canonical);
    if (::mkdir(dir.c_str(), 0700) != 0) {
      if (errno == EEXIST) return std::unexpected(Error{ErrorKind::exists, canonical});
      return std::unexpected(error_from({errno, std::generic_category()}, "mkdir " + dir.string()));
    }
    for (const char* sub : {"cur", "new", "tmp"}) {
      if (::mkdir((dir / sub).c_str(), 0700) != 0 && errno != EEXIST) {
        // No half-made folder (a full disk): CREATE answered NO leaves none.
        Error error = error_from({errno, std::generic_category()}, "mkdir " + (dir / sub).string());
        std::error_code ignored;
        fs::remove_all(dir, ignored);
        return std::unexpected(error);
      }
    }
    // Dovecot marks a Maildir++ folder with this file; Courier needs it too.
    int fd = ::open((dir / "maildirfolder").c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    maildir::fsync_directory(root());
    return {};
  }
};

User::User(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
User::~User() = default;
const std::string& User::name() const { return impl_->name; }
fs::path User::root() const { return impl_->root(); }

Result<std::unique_ptr<User>> Store::open_user(std::string_view user) {
  std::string name;
  for (char c : user) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '+' ||
              c == '@';
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      ok = true;
    }
    if (!ok) return std::unexpected(Error{ErrorKind::bad_name, "user name"});
    name += c;
  }
  if (name.empty() || name.size() > 255 || name[0] == '.')
    return std::unexpected(Error{ErrorKind::bad_name, "user name"});
  auto impl = std::make_shared<User::Impl>();
  impl->store = impl_;
  impl->name = name;
  impl->root_dir = (impl_->config.mail_root / name).string();
  bool first_login = !fs::exists(impl->root() / "cur");
  for (const char* sub : {"", "cur", "new", "tmp"}) {
    std::error_code ec;
    fs::create_directories(impl->root() / sub, ec);
    if (ec) return std::unexpected(error_from(ec, "create " + (impl->root() / sub).string()));
  }
  // Before any folder of the user is read: a MOVE a crash interrupted.
  move_journal::recover(impl->root(), impl_->config.host_name);
  std::unique_ptr<User> opened(new User(std::move(impl)));
  if (first_login) {
    for (const auto& folder : impl_->config.default_folders) {
      auto made = opened->create(folder.name, folder.use);
      if (!made && made.error().kind != ErrorKind::exists) return std::unexpected(made.error());
      if (impl_->config.auto_subscribe_defaults) {
        if (auto sub = opened->subscribe(folder.name, true); !sub) return std::unexpected(sub.error());
      }
    }
    if (impl_->config.auto_subscribe_defaults) {
      if (auto sub = opened->subscribe("INBOX", true); !sub) return std::unexpected(sub.error());
    }
  }
  return opened;
}

Result<std::vector<FolderInfo>> User::list() {
  std::vector<std::string> names = impl_->folder_names();
  std::set<std::string> subscribed = impl_->subscriptions();
  std::map<std::string, SpecialUse> uses = impl_->special_uses();
  std::vector<FolderInfo> out;
  for (const auto& name : names) {
    FolderInfo info;
    info.name = name;
    info.subscribed = subscribed.contains(name);
    if (auto u = uses.find(name); u != uses.end()) info.use = u->second;
    std::string prefix = name + kHierarchySeparator;
    info.has_children = std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n.starts_with(prefix); });
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<std::string>> User::stale_subscriptions() {
  std::vector<std::string> names = impl_->folder_names();
  std::sort(names.begin(), names.end());
  std::vector<std::string> out;
  for (const auto& name : impl_->subscriptions())
    if (!std::binary_search(names.begin(), names.end(), name)) out.push_back(name);
  return out;
}

Result<void> User::create(std::string_view name, SpecialUse use) {
  auto canonical = canonical_name(name);
  if (!canonical) return std::unexpected(bad_name(canonical.error()));
  auto lock = impl_->lock_folders();
  if (!lock) return std::unexpected(lock.error());
  if (is_inbox(*canonical)) return std::unexpected(Error{ErrorKind::exists, "INBOX"});
  // Superior levels are created too (RFC 9051 §6.3.4).
  for (std::size_t at = canonical->find(kHierarchySeparator); at != std::string::npos;
       at = canonical->find(kHierarchySeparator, at + 1)) {
    std::string parent = canonical->substr(0, at);
    if (is_inbox(parent) || impl_->folder_exists(parent)) continue;
    if (auto made = impl_->make_folder(parent); !made && made.error().kind != ErrorKind::exists) return made;
  }
  if (auto made = impl_->make_folder(*canonical); !made) return made;
  if (use != SpecialUse::none) {
    auto uses = impl_->special_uses();
    uses[*canonical] = use;
    if (auto written = impl_->write_special_uses(uses); !written) return written;
  }
  return {};
}

Result<void> User::remove(std::string_view name) {
  auto lock = impl_->lock_folders();
  if (!lock) return std::unexpected(lock.error());
  auto canonical = impl_->existing(name);
  if (!canonical) return std::unexpected(canonical.error());
  if (is_inbox(*canonical)) return std::unexpected(Error{ErrorKind::not_possible, "delete INBOX"});
  std::string prefix = *canonical + kHierarchySeparator;
  for (const auto& other : impl_->folder_names())
    if (other.starts_with(prefix)) return std::unexpected(Error{ErrorKind::has_children, *canonical});
  fs::path dir = impl_->root() / directory_name(*canonical);
  auto folder = impl_->folder(*canonical);
  folder->wait_for_commits();
  folder->unpublish();
  impl_->store->forget(dir);
  index::EnvRegistry::instance().forget(dir / "roost-index");
  // Out of sight in one rename, then removed at leisure.
  std::mt19937_64 random{std::random_device{}()};
  fs::path trash = impl_->root() / ("roost-deleted-" + std::to_string(random()));
  if (::rename(dir.c_str(), trash.c_str()) != 0)
    return std::unexpected(error_from({errno, std::generic_category()}, "rename " + dir.string()));
  folder->retire();
  std::error_code ec;
  fs::remove_all(trash, ec);
  auto uses = impl_->special_uses();
  if (uses.erase(*canonical) > 0) (void)impl_->write_special_uses(uses);
  quota::recount(impl_->root(), impl_->quota_limits());
  return {};
}

namespace {

std::filesystem::path annotations_path(const fs::path& root, std::string_view canonical) {
  if (canonical.empty()) return root / annotation_file::kServerFile;
  return root / directory_name(canonical) / annotation_file::kFile;
}

}  // namespace

Result<void> User::rename(std::string_view from, std::string_view to) {
  auto source = impl_->existing(from);
  if (!source) return std::unexpected(source.error());
  auto target = canonical_name(to);
  if (!target) return std::unexpected(bad_name(target.error()));
  if (is_inbox(*source)) {
    // RFC 9051 §6.3.6: renaming INBOX moves its messages to the new folder
    // and leaves INBOX, empty, in place; its subfolders stay where they are.
    // (create() takes the folder lock itself, and says if the target exists.)
    if (auto made = create(*target); !made) return made;
    // RFC 5464 §4.1: INBOX keeps its annotations, and the new folder gets a copy.
    auto kept = annotation_file::read(annotations_path(impl_->root(), "INBOX"));
    if (!kept) return std::unexpected(kept.error());
    if (!kept->empty())
      if (auto copied = annotation_file::write(annotations_path(impl_->root(), *target), *kept); !copied) return copied;
    auto inbox = open("INBOX", false);
    if (!inbox) return std::unexpected(inbox.error());
    const std::vector<Uid> all = (*inbox)->uids();
    constexpr std::size_t kChunk = 500;  // bounds the memory one move holds
    for (std::size_t at = 0; at < all.size(); at += kChunk) {
      std::vector<Uid> chunk(all.begin() + static_cast<std::ptrdiff_t>(at),
                             all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), at + kChunk)));
      if (auto moved = (*inbox)->copy(chunk, *target, true); !moved) return std::unexpected(moved.error());
    }
    return {};
  }
  auto lock = impl_->lock_folders();
  if (!lock) return std::unexpected(lock.error());
  if (impl_->folder_exists(*target)) return std::unexpected(Error{ErrorKind::exists, *target});
  std::string prefix = *source + kHierarchySeparator;
  if (target->starts_with(prefix)) return std::unexpected(Error{ErrorKind::not_possible, "rename into itself"});
  // Superior levels of the new name, then the folder and each child.
  for (std::size_t at = target->find(kHierarchySeparator); at != std::string::npos;
       at = target->find(kHierarchySeparator, at + 1)) {
    std::string parent = target->substr(0, at);
    if (is_inbox(parent) || impl_->folder_exists(parent)) continue;
    if (auto made = impl_->make_folder(parent); !made && made.error().kind != ErrorKind::exists) return made;
  }
  std::vector<std::pair<std::string, std::string>> moves{{*source, *target}};
  for (const auto& other : impl_->folder_names())
    if (other.starts_with(prefix)) moves.emplace_back(other, *target + other.substr(source->size()));
  for (const auto& [old_name, new_name] : moves) {
    fs::path a = impl_->root() / directory_name(old_name), b = impl_->root() / directory_name(new_name);
    auto folder = impl_->folder(old_name);
    folder->wait_for_commits();
    folder->unpublish();
    impl_->store->forget(a);
    if (auto ec = maildir::rename_noreplace(a, b)) return std::unexpected(error_from(ec, "rename " + a.string()));
    folder->retire();
  }
  maildir::fsync_directory(impl_->root());
  auto subscribed = impl_->subscriptions();
  auto uses = impl_->special_uses();
  bool subs_changed = false, uses_changed = false;
  for (const auto& [old_name, new_name] : moves) {
    if (subscribed.erase(old_name) > 0) {
      subscribed.insert(new_name);
      subs_changed = true;
    }
    if (auto u = uses.find(old_name); u != uses.end()) {
      SpecialUse use = u->second;
      uses.erase(u);
      uses[new_name] = use;
      uses_changed = true;
    }
  }
  if (subs_changed)
    if (auto w = impl_->write_subscriptions(subscribed); !w) return w;
  if (uses_changed)
    if (auto w = impl_->write_special_uses(uses); !w) return w;
  return {};
}

Result<std::vector<Annotation>> User::annotations(std::string_view folder) {
  std::string canonical;
  if (!folder.empty()) {
    auto existing = impl_->existing(folder);
    if (!existing) return std::unexpected(existing.error());
    canonical = std::move(*existing);
  }
  return annotation_file::read(annotations_path(impl_->root(), canonical));
}

Result<void> User::annotate(std::string_view folder, const std::vector<AnnotationChange>& changes,
                            std::size_t max_entries) {
  auto lock = impl_->lock_folders();
  if (!lock) return std::unexpected(lock.error());
  std::string canonical;
  if (!folder.empty()) {
    auto existing = impl_->existing(folder);
    if (!existing) return std::unexpected(existing.error());
    canonical = std::move(*existing);
  }
  const fs::path file = annotations_path(impl_->root(), canonical);
  auto entries = annotation_file::read(file);
  if (!entries) return std::unexpected(entries.error());
  if (auto applied = annotation_file::apply(*entries, changes, max_entries); !applied) return applied;
  return annotation_file::write(file, *entries);
}

Result<void> User::subscribe(std::string_view name, bool subscribed) {
  auto canonical = canonical_name(name);
  if (!canonical) return std::unexpected(bad_name(canonical.error()));
  auto lock = impl_->lock_folders();
  if (!lock) return std::unexpected(lock.error());
  auto names = impl_->subscriptions();
  bool changed = subscribed ? names.insert(*canonical).second : names.erase(*canonical) > 0;
  if (!changed) return {};
  return impl_->write_subscriptions(names);
}

Result<FolderStatus> User::status(std::string_view name) {
  auto canonical = impl_->existing(name);
  if (!canonical) return std::unexpected(canonical.error());
  auto folder = impl_->folder(*canonical);
  if (auto counters = folder->published()) {
    // From the user's index: no folder index opened (LIST-STATUS on many folders).
    const auto& c = *counters;
    return FolderStatus{c.messages, c.recent, c.unseen, c.deleted, c.size, c.uidnext, c.uidvalidity, c.highest_modseq};
  }
  auto meta = folder->sync(false);
  if (!meta) return std::unexpected(meta.error());
  folder->publish(*meta);
  FolderStatus status;
  status.messages = meta->messages;
  status.unseen = meta->unseen;
  status.deleted = meta->deleted;
  status.size = meta->size;
  status.uidnext = meta->uidnext;
  status.uidvalidity = meta->uidvalidity;
  status.highest_modseq = meta->highest_modseq;
  status.recent = meta->recent;
  return status;
}

Result<std::string> User::mailbox_id(std::string_view name) {
  auto canonical = impl_->existing(name);
  if (!canonical) return std::unexpected(canonical.error());
  auto guid = impl_->folder(*canonical)->mailbox_guid();
  if (!guid) return std::unexpected(guid.error());
  return index::mailbox_id(*guid);
}

Result<std::string> User::existing(std::string_view name) { return impl_->existing(name); }

Result<std::vector<std::filesystem::path>> User::watch_paths(std::string_view folder) {
  auto canonical = impl_->existing(folder);
  if (!canonical) return std::unexpected(canonical.error());
  fs::path dir = impl_->root() / directory_name(*canonical);
  return std::vector<fs::path>{dir, dir / "new", dir / "cur"};
}

WatchedChange watched_change(std::size_t path_index, std::string_view entry) {
  if (path_index > 0) return WatchedChange::messages;  // new/ or cur/
  if (entry.empty() || entry == Folder::kChangeFile) return WatchedChange::messages;  // the directory itself, or a commit
  if (entry == annotation_file::kFile) return WatchedChange::annotations;
  if (entry == annotation_file::kServerFile) return WatchedChange::server_annotations;
  if (entry == kSubscriptions) return WatchedChange::subscriptions;
  if (entry == kSpecialUse) return WatchedChange::folders;  // LIST attributes
  // Maildir++ folders are the root's entries ".Name".
  if (entry.size() > 1 && entry[0] == '.' && entry != "..") return WatchedChange::folders;
  return WatchedChange::other;
}

Result<Appended> User::deliver(std::string_view folder, NewMessage message) {
  std::vector<NewMessage> one;
  one.push_back(std::move(message));
  auto canonical = impl_->existing(folder);
  if (!canonical) return std::unexpected(canonical.error());
  if (auto fits = check_quota(one[0].data.size(), 1); !fits) return std::unexpected(fits.error());
  return impl_->folder(*canonical)->add(std::move(one), true);
}

Result<Appended> User::append(std::string_view folder, std::vector<NewMessage> messages) {
  auto canonical = impl_->existing(folder);
  if (!canonical) return std::unexpected(canonical.error());
  std::uint64_t bytes = 0;
  for (const auto& m : messages) bytes += m.data.size();
  if (auto fits = check_quota(bytes, messages.size()); !fits) return std::unexpected(fits.error());
  return impl_->folder(*canonical)->add(std::move(messages), false);
}

Result<void> User::check_quota(std::uint64_t bytes, std::uint64_t messages) {
  const quota::Limits limits = impl_->quota_limits();
  if (limits.bytes == 0 && limits.messages == 0) return {};
  const quota::Usage usage = quota::read(impl_->root(), limits);
  const auto used_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(usage.bytes, 0));
  const auto used_messages = static_cast<std::uint64_t>(std::max<std::int64_t>(usage.messages, 0));
  if ((limits.bytes != 0 && used_bytes + bytes > limits.bytes) ||
      (limits.messages != 0 && used_messages + messages > limits.messages))
    return std::unexpected(Error{ErrorKind::over_quota, impl_->name});
  return {};
}

MaildropLock::MaildropLock(MaildropLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), previous_login_(other.previous_login_) {}

MaildropLock& MaildropLock::operator=(MaildropLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    previous_login_ = other.previous_login_;
  }
  return *this;
}

MaildropLock::~MaildropLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

void MaildropLock::record_login() {
  if (fd_ < 0) return;
  if (::pwrite(fd_, "\n", 1, 0) != 1) return;  // the time is a hint; a failed write only loses it
  ::futimens(fd_, nullptr);
}

Result<std::optional<MaildropLock>> User::lock_maildrop(bool exclusive) {
  fs::path file = impl_->root() / "roost-pop3.lock";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(error_from(std::error_code(errno, std::generic_category()), "open " + file.string()));
  // flock belongs to the open file description: two sessions in one
  // process exclude each other as two processes do.
  if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return std::optional<MaildropLock>();
    return std::unexpected(error_from(std::error_code(err, std::generic_category()), "lock " + file.string()));
  }
  struct stat st{};
  std::int64_t previous = 0;
  // Empty until the first login is recorded (record_login writes a byte).
  if (::fstat(fd, &st) == 0 && st.st_size > 0) previous = st.st_mtim.tv_sec;
  return std::optional<MaildropLock>(MaildropLock(fd, previous));
}

Result<QuotaUsage> User::quota() {
  const auto own = quota::read_limits(impl_->root());
  const StoreConfig& c = impl_->store->config;
  const quota::Limits limits = own ? *own : quota::Limits{c.quota_bytes, c.quota_messages};
  quota::Usage usage = quota::read(impl_->root(), limits);
  QuotaUsage out;
  out.bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(usage.bytes, 0));
  out.messages = static_cast<std::uint64_t>(std::max<std::int64_t>(usage.messages, 0));
  out.bytes_limit = limits.bytes;
  out.messages_limit = limits.messages;
  out.own_limits = own.has_value();
  return out;
}

Result<QuotaUsage> User::set_quota(std::optional<QuotaLimits> limits) {
  std::optional<quota::Limits> own;
  if (limits) own = quota::Limits{limits->bytes, limits->messages};
  if (auto ec = quota::write_limits(impl_->root(), own); ec)
    return std::unexpected(error_from(ec, "quota limits of " + impl_->name));
  quota::recount(impl_->root(), impl_->quota_limits());
  return quota();
}

Result<void> User::rebuild_index(std::string_view folder) {
  auto canonical = impl_->existing(folder);
  if (!canonical) return std::unexpected(canonical.error());
  return impl_->folder(*canonical)->rebuild();
}

Result<std::vector<std::string>> User::verify_index(std::string_view folder) {
  auto canonical = impl_->existing(folder);
  if (!canonical) return std::unexpected(canonical.error());
  return impl_->folder(*canonical)->verify();
}

// ---------------------------------------------------------------------------
// FolderView

struct FolderView::Impl {
  std::shared_ptr<User::Impl> user;
  std::shared_ptr<Folder> folder;
  bool read_only = false;
  bool claims_recent = true;  // never for a read-only view
  std::uint32_t uidvalidity = 0;
  Uid uidnext = 1;
  Modseq seen_modseq = 0;
  // Ascending; replaced, never changed, so that views showing the same
  // state of the folder share one list (Folder::share_uids).
  std::shared_ptr<const std::vector<Uid>> uids;
  std::vector<Uid> pending_expunges;  // expunged, not yet announced
  Uid recent_from = 0, recent_to = 0;  // [from, to): \Recent in this session
  std::vector<std::string> keywords;
  dev_t dir_device = 0;  // the folder's directory when the view was opened
  ino_t dir_inode = 0;

  bool is_recent(Uid uid) const { return uid >= recent_from && uid < recent_to; }

  static Folder::UidState state_of(const index::FolderMeta& meta) {
    return {meta.uidvalidity, meta.highest_modseq, meta.uidnext, meta.messages};
  }

  // The folder this view shows is still where it was: not deleted, renamed
  // or replaced by another of the same name since. Checked before anything
  // that could write, so that nothing recreates a folder someone removed.
  Result<void> still_there() const {
    struct stat st{};
    if (::stat(folder->dir().c_str(), &st) != 0)
      return std::unexpected(Error{ErrorKind::not_found, "folder deleted or renamed: " + folder->dir().string()});
    // The inode alone could be the old one's, reused by a folder made since.
    if (folder->retired() || st.st_dev != dir_device || st.st_ino != dir_inode)
      return std::unexpected(Error{ErrorKind::not_possible, "folder replaced: " + folder->dir().string()});
    return {};
  }

  // Runs `body` in a read transaction of the folder index.
  Result<void> read(const std::function<std::expected<void, LmdbError>(Txn&)>& body) {
    auto env = folder->env();
    if (!env) return std::unexpected(env.error());
    auto done = (*env)->read(body);
    if (!done) return std::unexpected(error_from(done.error()));
    return {};
  }

  // One message's value from the index, or `expunged`.
  template <class T, class Find>
  Result<T> find(Uid uid, Find find_in) {
    std::optional<T> out;
    auto done = read([&](Txn& txn) -> std::expected<void, LmdbError> {
      auto found = find_in(txn, uid);
      if (!found) return std::unexpected(found.error());
      out = std::move(*found);
      return {};
    });
    if (!done) return std::unexpected(done.error());
    if (!out) return std::unexpected(Error{ErrorKind::expunged, std::to_string(uid)});
    return std::move(*out);
  }
};

FolderView::FolderView(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FolderView::~FolderView() = default;
const std::string& FolderView::name() const { return impl_->folder->name(); }
bool FolderView::read_only() const { return impl_->read_only; }
std::uint32_t FolderView::uidvalidity() const { return impl_->uidvalidity; }
Uid FolderView::uidnext() const { return impl_->uidnext; }
Modseq FolderView::highest_modseq() const { return impl_->seen_modseq; }
const std::vector<Uid>& FolderView::uids() const { return *impl_->uids; }
std::shared_ptr<const std::vector<Uid>> FolderView::uid_list() const { return impl_->uids; }
std::vector<std::string> FolderView::keywords() const { return impl_->keywords; }
std::filesystem::path FolderView::change_file() const { return impl_->folder->change_file(); }
std::vector<std::filesystem::path> FolderView::watch_paths() const {
  return {impl_->folder->change_file(), impl_->folder->dir() / "new", impl_->folder->dir() / "cur"};
}

std::uint32_t FolderView::recent_count() const {
  return static_cast<std::uint32_t>(std::count_if(impl_->uids->begin(), impl_->uids->end(),
                                                  [&](Uid u) { return impl_->is_recent(u); }));
}

std::vector<Uid> FolderView::recent_uids() const {
  std::vector<Uid> out;
  std::copy_if(impl_->uids->begin(), impl_->uids->end(), std::back_inserter(out),
               [&](Uid u) { return impl_->is_recent(u); });
  return out;
}

std::optional<std::uint32_t> FolderView::sequence_of(Uid uid) const {
  auto it = std::lower_bound(impl_->uids->begin(), impl_->uids->end(), uid);
  if (it == impl_->uids->end() || *it != uid) return std::nullopt;
  return static_cast<std::uint32_t>(it - impl_->uids->begin() + 1);
}

std::vector<std::uint32_t> FolderView::sequences_of(const std::vector<Uid>& uids) const {
  const index::UidPositions positions(*impl_->uids);
  std::vector<std::uint32_t> out;
  out.reserve(uids.size());
  for (Uid uid : uids)
    if (auto at = positions.find(uid)) out.push_back(*at + 1);
  return out;
}

Result<std::unique_ptr<FolderView>> User::open(std::string_view name, bool read_only, bool claims_recent) {
  auto canonical = impl_->existing(name);
  if (!canonical) return std::unexpected(canonical.error());
  auto view = std::make_unique<FolderView::Impl>();
  view->user = impl_;
  view->folder = impl_->folder(*canonical);
  view->read_only = read_only;
  view->claims_recent = !read_only && claims_recent;
  struct stat st{};
  if (::stat(view->folder->dir().c_str(), &st) != 0)
    return std::unexpected(Error{ErrorKind::not_found, "folder vanished: " + view->folder->dir().string()});
  view->dir_device = st.st_dev;
  view->dir_inode = st.st_ino;
  auto meta = view->folder->sync(false);
  if (!meta) return std::unexpected(meta.error());
  auto env = view->folder->env();
  if (!env) return std::unexpected(env.error());
  index::FolderMeta seen;
  auto read = (*env)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    seen = *m;
    view->uids = view->folder->shared_uids(FolderView::Impl::state_of(seen));
    if (view->uids) return {};
    std::vector<Uid> listed;
    listed.reserve(seen.messages);
    auto walked = index::for_each_record(txn, 1, [&](const index::MessageRecord& r) {
      listed.push_back(r.uid);
      return true;
    });
    view->uids = std::make_shared<const std::vector<Uid>>(std::move(listed));
    return walked;
  });
  if (!read) return std::unexpected(error_from(read.error()));
  if (view->uids->size() == seen.messages) view->folder->share_uids(FolderView::Impl::state_of(seen), view->uids);
  view->uidvalidity = seen.uidvalidity;
  view->uidnext = seen.uidnext;
  view->seen_modseq = seen.highest_modseq;
  view->keywords = seen.keywords;
  if (!view->claims_recent) {
    view->recent_from = seen.first_recent;
    view->recent_to = seen.uidnext;
  } else {
    // \Recent is the one thing opening a folder writes: where it cannot be
    // written (a full disk), this session claims none, and the folder still
    // opens so that its mail can be read and expunged to make room.
    auto first = view->folder->claim_recent();
    view->recent_from = first ? *first : seen.uidnext;
    view->recent_to = seen.uidnext;
  }
  return std::unique_ptr<FolderView>(new FolderView(std::move(view)));
}

Result<ViewUpdate> FolderView::refresh(bool allow_expunges) {
  Impl& v = *impl_;
  if (auto there = v.still_there(); !there) return std::unexpected(there.error());
  auto meta = v.folder->sync(false);
  if (!meta) return std::unexpected(meta.error());
  auto env = v.folder->env();
  if (!env) return std::unexpected(env.error());
  ViewUpdate update;
  index::FolderMeta now;
  std::vector<Uid> arrived;
  index::Changes changes;
  auto read = (*env)->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto m = index::read_meta(txn);
    if (!m) return std::unexpected(m.error());
    now = *m;
    if (now.uidvalidity != v.uidvalidity) return {};
    auto c = index::changes_since(txn, v.seen_modseq);
    if (!c) return std::unexpected(c.error());
    changes = std::move(*c);
    return index::for_each_record(txn, v.uidnext, [&](const index::MessageRecord& r) {
      arrived.push_back(r.uid);
      return true;
    });
  });
  if (!read) return std::unexpected(error_from(read.error()));
  if (now.uidvalidity != v.uidvalidity)
    return std::unexpected(Error{ErrorKind::not_possible, "UIDVALIDITY changed"});

  const std::vector<Uid>& before = *v.uids;
  for (Uid uid : changes.expunged)
    if (std::binary_search(before.begin(), before.end(), uid)) v.pending_expunges.push_back(uid);
  std::sort(v.pending_expunges.begin(), v.pending_expunges.end());
  v.pending_expunges.erase(std::unique(v.pending_expunges.begin(), v.pending_expunges.end()), v.pending_expunges.end());
  for (Uid uid : changes.changed)
    if (uid < v.uidnext && std::binary_search(before.begin(), before.end(), uid) &&
        !std::binary_search(v.pending_expunges.begin(), v.pending_expunges.end(), uid))
      update.flags_changed.push_back(uid);
  const bool expunging = allow_expunges && !v.pending_expunges.empty();
  if (expunging) {
    // Highest first: each number is then valid when the client reads it
    // (removing a higher one moves no lower one).
    for (auto it = v.pending_expunges.rbegin(); it != v.pending_expunges.rend(); ++it) {
      auto pos = std::lower_bound(before.begin(), before.end(), *it);
      update.expunged.push_back(static_cast<std::uint32_t>(pos - before.begin() + 1));
      update.vanished.push_back(*it);
    }
    std::reverse(update.vanished.begin(), update.vanished.end());
  }
  // With every expunge told, the view shows the index as it is at `now`,
  // and shares its UIDs with the other views that do. (Unless it lacks a
  // message indexed late below its UIDNEXT, which its session cannot be
  // shown: then its count differs.)
  const std::size_t size_after = before.size() - (expunging ? v.pending_expunges.size() : 0) + arrived.size();
  const bool in_step = (expunging || v.pending_expunges.empty()) && size_after == now.messages;
  const Folder::UidState state = FolderView::Impl::state_of(now);
  if (expunging || !arrived.empty()) {
    std::shared_ptr<const std::vector<Uid>> next = in_step ? v.folder->shared_uids(state) : nullptr;
    if (!next) {
      std::vector<Uid> list;
      list.reserve(size_after);
      if (expunging)
        std::set_difference(before.begin(), before.end(), v.pending_expunges.begin(), v.pending_expunges.end(),
                            std::back_inserter(list));
      else
        list = before;
      list.insert(list.end(), arrived.begin(), arrived.end());
      next = std::make_shared<const std::vector<Uid>>(std::move(list));
    }
    v.uids = std::move(next);  // `before` is gone from here on
  }
  if (in_step) v.folder->share_uids(state, v.uids);
  if (expunging) v.pending_expunges.clear();
  if (!arrived.empty()) {
    update.new_messages = true;
    if (v.claims_recent) {
      auto first = v.folder->claim_recent();
      if (first && *first <= arrived.front()) {
        if (v.recent_to < *first) v.recent_from = *first;
        v.recent_to = now.uidnext;
      }
    }
  }
  v.uidnext = std::max(v.uidnext, now.uidnext);
  v.seen_modseq = now.highest_modseq;
  v.keywords = now.keywords;
  update.exists = static_cast<std::uint32_t>(v.uids->size());
  return update;
}

Result<FolderView::ChangesSince> FolderView::changes_since(Modseq since) {
  ChangesSince out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto meta = index::read_meta(txn);
    if (!meta) return std::unexpected(meta.error());
    auto changes = index::changes_since(txn, since);
    if (!changes) return std::unexpected(changes.error());
    out = {};
    out.expunges_complete = since >= meta->expunges_since;
    const auto& uids = *impl_->uids;
    for (Uid uid : changes->changed)
      if (std::binary_search(uids.begin(), uids.end(), uid)) out.changed.push_back(uid);
    out.expunged = std::move(changes->expunged);
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::vector<MessageInfo>> FolderView::messages(const std::vector<Uid>& uids) {
  std::vector<MessageInfo> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    out.clear();
    out.reserve(uids.size());
    auto meta = index::read_meta(txn);
    if (!meta) return std::unexpected(meta.error());
    auto add = [&](const index::MessageRecord& r) {
      MessageInfo info;
      info.uid = r.uid;
      info.system_flags = r.flags;
      for (std::size_t i = 0; i < meta->keywords.size(); ++i)
        if (r.keywords & (std::uint64_t{1} << i)) info.keywords.push_back(meta->keywords[i]);
      info.internal_date = r.internal_date;
      info.save_date = r.save_date;
      info.size = r.vsize;
      info.modseq = r.modseq;
      info.recent = impl_->is_recent(r.uid);
      out.push_back(std::move(info));
    };
    if (uids.empty()) return {};
    // A dense run of UIDs (FETCH 1:*) is cheaper walked with one cursor
    // than looked up one by one; a sparse or unordered set is looked up.
    if (uids.back() >= uids.front() && uids.back() - uids.front() <= 4 * uids.size() &&
        std::is_sorted(uids.begin(), uids.end())) {
      auto wanted = uids.begin();
      return index::for_each_record(txn, uids.front(), [&](const index::MessageRecord& r) {
        while (wanted != uids.end() && *wanted < r.uid) ++wanted;
        if (wanted == uids.end()) return false;
        if (*wanted == r.uid) add(r);
        return true;
      });
    }
    for (Uid uid : uids) {
      auto r = index::find_record(txn, uid);
      if (!r) return std::unexpected(r.error());
      if (*r) add(**r);
    }
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::vector<MaildropEntry>> FolderView::maildrop(bool with_file_names) {
  std::vector<MaildropEntry> out;
  out.reserve(impl_->uids->size());
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    out.clear();
    auto next = impl_->uids->begin();
    return index::for_each_record(txn, 1, [&](const index::MessageRecord& r) {
      while (next != impl_->uids->end() && *next < r.uid) ++next;  // expunged meanwhile
      if (next == impl_->uids->end()) return false;
      if (*next == r.uid)
        out.push_back(MaildropEntry{r.uid, r.vsize, with_file_names ? r.file_key : std::string(), r.pop3_uidl});
      return true;
    });
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::vector<std::pair<Uid, index::MessageCache>>> FolderView::caches(const std::vector<Uid>& uids,
                                                                              unsigned fields) {
  std::vector<std::pair<Uid, index::MessageCache>> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    out.clear();
    out.reserve(uids.size());
    for (Uid uid : uids) {
      auto cache = index::find_cache(txn, uid, fields);
      if (!cache) return std::unexpected(cache.error());
      if (*cache) out.emplace_back(uid, std::move(**cache));
    }
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<index::MessageKeys> FolderView::keys(Uid uid) {
  return impl_->find<index::MessageKeys>(uid, index::find_keys);
}

Result<std::string> FolderView::mailbox_id() {
  auto guid = impl_->folder->mailbox_guid();
  if (!guid) return std::unexpected(guid.error());
  return index::mailbox_id(*guid);
}

Result<std::vector<FolderView::ObjectIds>> FolderView::object_ids(const std::vector<Uid>& uids) {
  std::vector<ObjectIds> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    out.clear();
    for (Uid uid : uids) {
      auto record = index::find_record(txn, uid);
      if (!record) return std::unexpected(record.error());
      auto keys = index::find_keys(txn, uid);
      if (!keys) return std::unexpected(keys.error());
      if (!*record || !*keys) continue;
      out.push_back({uid, index::email_id(**record), index::thread_id(**record, **keys)});
    }
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::string> FolderView::read_range(Uid uid, std::uint64_t offset, std::uint64_t length) {
  // A rename by another session may move the file between reading its name
  // and opening it: look the name up again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto record = impl_->find<index::MessageRecord>(uid, index::find_record);
    if (!record) return std::unexpected(record.error());
    auto data = maildir::read_range(impl_->folder->message_path(*record), offset, length);
    if (data) return std::move(*data);
    if (data.error() != std::errc::no_such_file_or_directory)
      return std::unexpected(error_from(data.error(), "read message"));
  }
  return std::unexpected(Error{ErrorKind::expunged, std::to_string(uid)});
}

Result<std::string> FolderView::read(Uid uid) { return read_range(uid, 0, UINT64_MAX); }

namespace {

index::SearchContext search_context(const Txn& txn, const Folder& folder) {
  index::SearchContext context;
  context.now = ::time(nullptr);
  auto read_message = [&txn, &folder](Uid uid, std::uint64_t length) -> std::optional<std::string> {
    auto record = index::find_record(txn, uid);
    if (!record || !*record) return std::nullopt;
    auto data = maildir::read_range(folder.message_path(**record), 0, length);
    if (!data) return std::nullopt;
    return std::move(*data);
  };
  context.body_text = [read_message](Uid uid) -> std::optional<std::string> {
    auto data = read_message(uid, UINT64_MAX);
    if (!data) return std::nullopt;
    return index::body_search_text(*data);
  };
  context.header_block = [&txn, read_message](Uid uid) -> std::optional<std::string> {
    auto cache = index::find_cache(txn, uid, index::cache_field::parts);
    if (!cache || !*cache || (*cache)->parts.empty()) return std::nullopt;
    return read_message(uid, (*cache)->parts.front().header_end);
  };
  return context;
}

}  // namespace

Result<std::vector<Uid>> FolderView::search(const index::SearchKey& key, const std::vector<Uid>* within) {
  std::vector<Uid> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto found = index::search_messages(txn, key, within != nullptr ? *within : *impl_->uids,
                                        search_context(txn, *impl_->folder));
    if (!found) return std::unexpected(found.error());
    out = std::move(*found);
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::vector<Uid>> FolderView::sort(const std::vector<index::SortCriterion>& criteria,
                                          const index::SearchKey& key) {
  std::vector<Uid> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto found = index::search_messages(txn, key, *impl_->uids, search_context(txn, *impl_->folder));
    if (!found) return std::unexpected(found.error());
    auto sorted = index::sort_messages(txn, criteria, *found);
    if (!sorted) return std::unexpected(sorted.error());
    out = std::move(*sorted);
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<std::vector<index::ThreadNode>> FolderView::thread(index::ThreadAlgorithm algorithm,
                                                          const index::SearchKey& key) {
  std::vector<index::ThreadNode> out;
  auto read = impl_->read([&](Txn& txn) -> std::expected<void, LmdbError> {
    auto found = index::search_messages(txn, key, *impl_->uids, search_context(txn, *impl_->folder));
    if (!found) return std::unexpected(found.error());
    auto threads = index::thread_messages(txn, algorithm, *found);
    if (!threads) return std::unexpected(threads.error());
    out = std::move(*threads);
    return {};
  });
  if (!read) return std::unexpected(read.error());
  return out;
}

Result<FolderView::StoreResult> FolderView::store(const std::vector<Uid>& uids, StoreMode mode, const Flags& flags,
                                                  std::optional<Modseq> unchanged_since) {
  if (impl_->read_only) return std::unexpected(Error{ErrorKind::not_possible, "read-only"});
  if (auto there = impl_->still_there(); !there) return std::unexpected(there.error());
  auto stored = impl_->folder->store(uids, mode, flags, unchanged_since);
  // A keyword this STORE gave the folder is known to the view at once, so
  // that the session can name it before the FETCH responses that show it.
  if (stored && !flags.keywords.empty()) impl_->keywords = impl_->folder->keywords();
  return stored;
}

Result<std::vector<Uid>> FolderView::expunge(const std::optional<std::vector<Uid>>& only) {
  if (impl_->read_only) return std::unexpected(Error{ErrorKind::not_possible, "read-only"});
  if (auto there = impl_->still_there(); !there) return std::unexpected(there.error());
  return impl_->folder->expunge(only);
}

Result<std::vector<Uid>> FolderView::remove(const std::vector<Uid>& uids) {
  if (impl_->read_only) return std::unexpected(Error{ErrorKind::not_possible, "read-only"});
  if (auto there = impl_->still_there(); !there) return std::unexpected(there.error());
  return impl_->folder->expunge(uids, Folder::ExpungeWhich::listed);
}

Result<FolderView::Copied> FolderView::copy(const std::vector<Uid>& uids, std::string_view destination, bool move) {
  if (move && impl_->read_only) return std::unexpected(Error{ErrorKind::not_possible, "read-only"});
  if (auto there = impl_->still_there(); !there) return std::unexpected(there.error());
  auto target = impl_->user->existing(destination);
  if (!target) return std::unexpected(target.error());
  auto infos = messages(uids);
  if (!infos) return std::unexpected(infos.error());
  std::vector<NewMessage> copies;
  std::vector<std::filesystem::path> links;
  std::vector<move_journal::Source> moving;
  Copied out;
  for (const auto& info : *infos) {
    auto record = impl_->find<index::MessageRecord>(info.uid, index::find_record);
    if (!record) {
      if (record.error().kind == ErrorKind::expunged) continue;
      return std::unexpected(record.error());
    }
    auto data = read(info.uid);
    if (!data) {
      if (data.error().kind == ErrorKind::expunged) continue;
      return std::unexpected(data.error());
    }
    NewMessage m;
    m.data = std::move(*data);
    m.internal_date = info.internal_date;
    m.flags.system = info.system_flags;
    m.flags.keywords = info.keywords;
    m.guid = record->identity();
    copies.push_back(std::move(m));
    links.push_back(impl_->folder->message_path(*record));
    if (move) {
      struct stat st{};
      if (::lstat(links.back().c_str(), &st) == 0)
        moving.push_back({record->file_key, st.st_ino, static_cast<std::uint64_t>(st.st_size)});
    }
    out.source.push_back(info.uid);
  }
  if (copies.empty()) return out;
  auto destination_folder = impl_->user->folder(*target);
  std::optional<move_journal::Journal> journal;
  if (move) {
    const auto& config = impl_->user->store->config;
    auto begun = move_journal::Journal::begin(impl_->user->root(), config.host_name, impl_->folder->dir(),
                                              destination_folder->dir(), moving, config.fsync_changes);
    if (!begun) return std::unexpected(error_from(begun.error(), "write a move journal"));
    journal.emplace(std::move(*begun));
  }
  auto added = destination_folder->add(std::move(copies), false, links);
  if (!added) return std::unexpected(added.error());
  out.uidvalidity = added->uidvalidity;
  out.destination = added->uids;
  if (move) {
    if (auto gone = impl_->folder->expunge(out.source, Folder::ExpungeWhich::listed); !gone)
      return std::unexpected(gone.error());
  }
  return out;
}

}  // namespace roost::storage

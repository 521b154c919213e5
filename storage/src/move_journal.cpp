#include "move_journal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "maildir.hpp"
#include "quota.hpp"

namespace roost::storage::move_journal {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSuffix = ",move";
constexpr std::string_view kFirstLine = "roost-move 1";

std::error_code last_error() { return {errno, std::generic_category()}; }

struct Contents {
  fs::path source_dir, destination_dir;  // relative to the user's root
  std::vector<Source> sources;
};

std::string encode(const fs::path& source_dir, const fs::path& destination_dir, const std::vector<Source>& sources) {
  std::string out{kFirstLine};
  out += '\n' + source_dir.string() + '\n' + destination_dir.string() + '\n';
  for (const auto& s : sources)
    out += std::to_string(s.inode) + ' ' + std::to_string(s.size) + ' ' + s.file_key + '\n';
  return out;
}

std::optional<Contents> decode(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  Contents out;
  std::string source, destination;
  if (!std::getline(in, line) || line != kFirstLine || !std::getline(in, source) || !std::getline(in, destination))
    return std::nullopt;
  out.source_dir = source;
  out.destination_dir = destination;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Source s;
    if (!(fields >> s.inode >> s.size) || fields.get() != ' ' || !std::getline(fields, s.file_key) ||
        s.file_key.empty())
      return std::nullopt;
    out.sources.push_back(std::move(s));
  }
  return out;
}

// A folder directory named in a journal: inside the user's root, never
// through a link.
std::optional<fs::path> folder_dir(const fs::path& root, const fs::path& relative) {
  if (relative.is_absolute()) return std::nullopt;
  for (const auto& part : relative)
    if (part == "..") return std::nullopt;
  fs::path dir = (root / relative).lexically_normal();
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return dir;
}

std::unordered_set<ino_t> inodes_in(const fs::path& folder) {
  std::unordered_set<ino_t> out;
  for (const char* sub : {"cur", "new"}) {
    DIR* d = ::opendir((folder / sub).c_str());
    if (d == nullptr) continue;
    // Inode numbers from stat: readdir's may differ from them (overlayfs).
    struct stat st{};
    while (struct dirent* e = ::readdir(d))
      if (e->d_name[0] != '.' && ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        out.insert(st.st_ino);
    ::closedir(d);
  }
  return out;
}

// Finishes one abandoned journal; returns the source files removed and
// their bytes.
std::pair<std::int64_t, std::int64_t> finish(const fs::path& root, const Contents& journal) {
  auto source = folder_dir(root, journal.source_dir);
  auto destination = folder_dir(root, journal.destination_dir);
  if (!source || !destination || *source == *destination) return {0, 0};
  std::unordered_map<std::string_view, const Source*> by_key;
  for (const auto& s : journal.sources) by_key.emplace(s.file_key, &s);
  const auto copied = inodes_in(*destination);
  std::int64_t removed = 0, bytes = 0;
  for (const char* sub : {"cur", "new"}) {
    const fs::path dir = *source / sub;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::pair<std::string, std::int64_t>> doomed;  // name, bytes
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      auto it = by_key.find(name.substr(0, name.find(':')));
      struct stat st{};
      if (it == by_key.end() || ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode) || st.st_ino != it->second->inode || !copied.contains(st.st_ino))
        continue;
      doomed.emplace_back(name, st.st_size);
    }
    ::closedir(d);
    bool changed = false;
    for (const auto& [name, size] : doomed) {
      if (::unlink((dir / name).c_str()) != 0) continue;
      changed = true;
      ++removed;
      bytes += size;
    }
    // The folder's index notices a change by the directory's time, which
    // an unlink within the clock tick of the killed process's last rename
    // would not move: set it from the precise clock.
    if (changed) {
      struct timespec times[2] = {{0, UTIME_OMIT}, {}};
      ::clock_gettime(CLOCK_REALTIME, &times[1]);
      ::utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
  }
  return {removed, bytes};
}

}  // namespace

std::expected<Journal, std::error_code> Journal::begin(const fs::path& root, std::string_view host,
                                                       const fs::path& source_dir, const fs::path& destination_dir,
                                                       const std::vector<Source>& sources, bool flush) {
  std::string name = maildir::unique_name(host, 0, 0);
  name.replace(name.rfind(",S="), std::string::npos, kSuffix);
  fs::path path = root / "tmp" / name;
  const std::string text =
      encode(source_dir.lexically_relative(root), destination_dir.lexically_relative(root), sources);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(last_error());
  std::error_code ec;
  for (std::size_t done = 0; done < text.size() && !ec;) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno != EINTR) ec = last_error();
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (!ec && flush && ::fdatasync(fd) != 0) ec = last_error();
  ::close(fd);
  if (!ec && flush) ec = maildir::fsync_directory(path.parent_path());
  if (ec) {
    ::unlink(path.c_str());
    return std::unexpected(ec);
  }
  return Journal(std::move(path));
}

Journal::~Journal() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::size_t recover(const fs::path& root, std::string_view host) {
  // Journals this process wrote are newer than its first call here: a move
  // needs an open user, and opening one calls this first.
  static const std::int64_t first_call = ::time(nullptr);
  const std::string sanitized = maildir::sanitize_host(host);
  const fs::path tmp = root / "tmp";
  std::vector<std::string> abandoned;
  DIR* d = ::opendir(tmp.c_str());
  if (d == nullptr) return 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (!name.ends_with(kSuffix)) continue;
    auto pid = maildir::roost_writer(name, sanitized);
    if (!pid) continue;
    struct stat st{};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    // A pid of this process is an earlier process's only if the journal is
    // older than this one (a restarted container often gets the same pid).
    const bool gone = *pid == ::getpid() ? st.st_ctim.tv_sec < first_call
                                         : ::kill(*pid, 0) != 0 && errno == ESRCH;
    if (gone) abandoned.emplace_back(name);
  }
  ::closedir(d);
  std::int64_t removed = 0, bytes = 0;
  for (const auto& name : abandoned) {
    const fs::path path = tmp / name;
    if (auto text = maildir::read_file(path)) {
      if (auto journal = decode(*text)) {
        auto [files, size] = finish(root, *journal);
        removed += files;
        bytes += size;
      }
    }
    ::unlink(path.c_str());
  }
  if (removed > 0) quota::add(root, -bytes, -removed);
  return static_cast<std::size_t>(removed);
}

}  // namespace roost::storage::move_journal

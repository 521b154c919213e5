#include "maildir.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <algorithm>
#include <random>

#include "roost/index/folder_index.hpp"

namespace roost::storage::maildir {

namespace fl = index::flag;

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::optional<std::uint64_t> number_after(std::string_view text, std::string_view tag) {
  std::size_t at = text.find(tag);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t value = 0;
  std::size_t i = at + tag.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) value = value * 10 + static_cast<unsigned>(text[i] - '0');
  return value;
}

}  // namespace

FileName parse(std::string_view name) {
  FileName out;
  std::size_t colon = name.find(':');
  out.key = std::string(name.substr(0, colon));
  out.size = number_after(out.key, ",S=");
  out.vsize = number_after(out.key, ",W=");
  if (colon == std::string_view::npos) return out;
  std::string_view info = name.substr(colon + 1);
  // Only the ":2," form carries flags; anything else (":1," experimental
  // semantics) is dropped when the message is next renamed.
  if (!info.starts_with("2,")) return out;
  info.remove_prefix(2);
  // Dovecot never looks past a second comma; neither do we, but keep it.
  std::size_t comma = info.find(',');
  std::string_view letters = info.substr(0, comma);
  for (char c : letters) {
    switch (c) {
      case 'D': out.flags |= fl::draft; break;
      case 'F': out.flags |= fl::flagged; break;
      case 'R': out.flags |= fl::answered; break;
      case 'S': out.flags |= fl::seen; break;
      case 'P': out.passed = true; break;
      case 'T': out.flags |= fl::deleted; break;
      default:
        if (c >= 'a' && c <= 'z') {
          out.keywords |= std::uint64_t{1} << (c - 'a');
        } else {
          out.unknown_info += c;
        }
    }
  }
  if (comma != std::string_view::npos) out.unknown_info += std::string(info.substr(comma));
  return out;
}

std::string with_flags(const FileName& name) {
  // Upper-case letters sort before lower-case ones in ASCII, as required.
  std::string info;
  if (name.flags & fl::draft) info += 'D';
  if (name.flags & fl::flagged) info += 'F';
  if (name.passed) info += 'P';
  if (name.flags & fl::answered) info += 'R';
  if (name.flags & fl::seen) info += 'S';
  if (name.flags & fl::deleted) info += 'T';
  for (unsigned i = 0; i < 26; ++i)
    if (name.keywords & (std::uint64_t{1} << i)) info += static_cast<char>('a' + i);
  std::string tail;
  for (char c : name.unknown_info) {
    if (c == ',') break;
    tail += c;
  }
  info += tail;
  std::sort(info.begin(), info.end());
  std::size_t comma = name.unknown_info.find(',');
  if (comma != std::string::npos) info += name.unknown_info.substr(comma);
  return name.key + ":2," + info;
}

std::vector<std::string> parse_keywords(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    std::size_t space = line.find(' ');
    // One or two digits: the letters stop at 26.
    if (space == 0 || space > 2 || space == std::string_view::npos) continue;
    unsigned n = 0;
    bool number = true;
    for (std::size_t i = 0; i < space; ++i) {
      if (line[i] < '0' || line[i] > '9') number = false;
      else n = n * 10 + static_cast<unsigned>(line[i] - '0');
    }
    if (!number || n >= index::kMaxKeywords) continue;
    if (out.size() <= n) out.resize(n + 1);
    out[n] = std::string(line.substr(space + 1));
  }
  return out;
}

std::string sanitize_host(std::string_view host) {
  std::string out;
  for (char c : host) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else if (c == ',') {
      out += "\\054";
    } else {
      out += c;
    }
  }
  return out.empty() ? "localhost" : out;
}

std::string unique_name(std::string_view host, std::uint64_t size, std::uint64_t vsize) {
  static std::atomic<std::uint64_t> deliveries{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  struct timeval now{};
  ::gettimeofday(&now, nullptr);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld.M%ldP%dQ%lluR%016llx.", static_cast<long long>(now.tv_sec),
                static_cast<long>(now.tv_usec), static_cast<int>(::getpid()),
                static_cast<unsigned long long>(++deliveries), static_cast<unsigned long long>(random()));
  std::string out = buf;
  out += sanitize_host(host);
  out += ",S=" + std::to_string(size) + ",W=" + std::to_string(vsize);
  return out;
}

std::optional<int> roost_writer(std::string_view name, std::string_view host) {
  // <sec>.M<usec>P<pid>Q<n>R<16 hex>.<host>[,...]
  auto digits = [&](std::size_t& at) {
    const std::size_t from = at;
    while (at < name.size() && name[at] >= '0' && name[at] <= '9') ++at;
    return at > from;
  };
  std::size_t at = 0;
  if (!digits(at) || name.substr(at, 2) != ".M") return std::nullopt;
  at += 2;
  if (!digits(at) || at >= name.size() || name[at] != 'P') return std::nullopt;
  const std::size_t pid_from = ++at;
  if (!digits(at) || at >= name.size() || name[at] != 'Q') return std::nullopt;
  int pid = 0;
  if (std::from_chars(name.data() + pid_from, name.data() + at, pid).ec != std::errc() || pid <= 0) return std::nullopt;
  ++at;
  if (!digits(at) || at >= name.size() || name[at] != 'R') return std::nullopt;
  ++at;
  const std::size_t hex_from = at;
  while (at < name.size() && std::isxdigit(static_cast<unsigned char>(name[at]))) ++at;
  if (at - hex_from != 16 || at >= name.size() || name[at] != '.') return std::nullopt;
  std::string_view rest = name.substr(at + 1);
  if (rest.substr(0, rest.find_first_of(",:")) != host) return std::nullopt;
  return pid;
}

std::expected<NewFile, std::error_code> NewFile::start(const std::filesystem::path& path, std::string_view data,
                                                       std::int64_t mtime) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.fd < 0) return std::unexpected(last_error());
  auto fail = [&]() {
    std::error_code ec = last_error();
    ::unlink(path.c_str());
    return std::unexpected(ec);
  };
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail();
    }
    done += static_cast<std::size_t>(n);
  }
  // The file's mtime is the message's INTERNALDATE (as Dovecot keeps it).
  struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  if (::futimens(fd.fd, times) != 0) return fail();
  // Only a head start for the data: fsync in finish() is what makes it
  // durable (and reports any write error), so a failure here is ignored.
  ::sync_file_range(fd.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  NewFile file(fd.fd, path);
  fd.fd = -1;
  return file;
}

NewFile::~NewFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code NewFile::finish() {
  std::error_code ec;
  if (::fsync(fd_) != 0) ec = last_error();
  ::close(fd_);
  fd_ = -1;
  if (ec) ::unlink(path_.c_str());
  return ec;
}

std::error_code write_new_file(const std::filesystem::path& path, std::string_view data, std::int64_t mtime) {
  auto file = NewFile::start(path, data, mtime);
  if (!file) return file.error();
  return file->finish();
}

std::error_code replace_file(const std::filesystem::path& file, std::string_view text) {
  static std::atomic<std::uint64_t> writes{0};
  std::filesystem::path tmp = file;
  tmp += ".roost-tmp." + std::to_string(::getpid()) + "." + std::to_string(++writes);
  if (auto ec = write_new_file(tmp, text, ::time(nullptr))) return ec;
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    std::error_code ec = last_error();
    ::unlink(tmp.c_str());
    return ec;
  }
  return fsync_directory(file.parent_path());
}

std::expected<FileLock, std::error_code> FileLock::exclusive(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(last_error());
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    std::error_code ec = last_error();
    ::close(fd);
    return std::unexpected(ec);
  }
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
    return last_error();
  return {};
}

std::error_code fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.fd < 0) return last_error();
  if (::fsync(fd.fd) != 0) return last_error();
  return {};
}

std::error_code fsync_file(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.fd < 0) return last_error();
  if (::fsync(fd.fd) != 0) return last_error();
  return {};
}

std::expected<std::string, std::error_code> read_range(const std::filesystem::path& path, std::uint64_t offset,
                                                       std::uint64_t length) {
  // A message file is a regular file in the maildir itself: never a link
  // to somewhere else (a planted link would serve any file roostd can read).
  // (O_NONBLOCK: a FIFO planted there does not hang the open.)
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.fd < 0) return std::unexpected(last_error());
  struct stat st{};
  if (::fstat(fd.fd, &st) != 0) return std::unexpected(last_error());
  if (!S_ISREG(st.st_mode)) return std::unexpected(std::make_error_code(std::errc::not_supported));
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (offset >= size) return std::string();
  length = std::min(length, size - offset);
  std::string out(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd.fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(last_error());
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

std::expected<std::string, std::error_code> read_file(const std::filesystem::path& path) {
  return read_range(path, 0, UINT64_MAX);
}

}  // namespace roost::storage::maildir

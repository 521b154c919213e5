#include "uidlist.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <limits>
#include <random>
#include <thread>

namespace roost::storage::uidlist {

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

std::optional<std::uint32_t> number(std::string_view text) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool parse_header(std::string_view line, Header& header) {
  auto fields = split(line);
  if (fields.empty()) return false;
  if (fields[0] == "1" && fields.size() >= 3) {  // Courier-compatible version 1
    auto v = number(fields[1]), n = number(fields[2]);
    if (!v || !n) return false;
    header.uidvalidity = *v;
    header.next_uid = *n;
    return true;
  }
  if (fields[0] != "3") return false;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    if (f.size() > 1 && f[0] == 'V') {
      if (auto v = number(f.substr(1))) header.uidvalidity = *v;
    } else if (f.size() > 1 && f[0] == 'N') {
      if (auto n = number(f.substr(1))) header.next_uid = *n;
    } else if (f.size() > 1 && f[0] == 'G') {
      header.guid = std::string(f.substr(1));
    } else {
      if (!header.other.empty()) header.other += ' ';
      header.other += f;
    }
  }
  return header.uidvalidity != 0;
}

// "<uid>[ ext...] :<key>" (version 3) or "<uid> <key>" (version 1).
std::optional<Entry> parse_entry(std::string_view line) {
  std::size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto uid = number(line.substr(0, space));
  if (!uid || *uid == 0) return std::nullopt;
  Entry entry;
  entry.uid = *uid;
  std::size_t colon = line.find(" :", space);
  if (colon != std::string_view::npos) {
    entry.ext = std::string(line.substr(space, colon - space));
    entry.key = std::string(line.substr(colon + 2));
  } else {
    entry.key = std::string(line.substr(space + 1));
  }
  // Older writers stored the whole file name; the key is what precedes ':'.
  if (auto c = entry.key.find(':'); c != std::string::npos) entry.key.resize(c);
  if (entry.key.empty()) return std::nullopt;
  return entry;
}

std::string line_of(const Entry& e) {
  return std::to_string(e.uid) + e.ext + " :" + e.key + "\n";
}

std::error_code write_all(int fd, std::string_view data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

std::string_view field_of(const Entry& entry, char tag) {
  for (auto field : split(entry.ext))
    if (field.size() > 1 && field[0] == tag) return field.substr(1);
  return {};
}

}  // namespace

std::string guid_of(const Entry& entry) { return std::string(field_of(entry, 'G')); }

std::string pop3_uidl_of(const Entry& entry) {
  std::string_view uidl = field_of(entry, 'P');
  if (uidl.size() > 70) return {};
  for (char c : uidl)
    if (c < 0x21 || c > 0x7e) return {};
  return std::string(uidl);
}

Entry entry_for(std::uint32_t uid, const std::string& key, const std::string& guid, const std::string& pop3_uidl) {
  Entry entry{uid, key, {}};
  if (!guid.empty() && guid != key) entry.ext = " G" + guid;
  if (!pop3_uidl.empty()) entry.ext += " P" + pop3_uidl;
  return entry;
}

std::expected<Header, std::error_code> read_header(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::unexpected(last_error());
  char buffer[1024];
  ssize_t n;
  do {
    n = ::pread(fd, buffer, sizeof buffer, 0);
  } while (n < 0 && errno == EINTR);
  auto ec = n < 0 ? last_error() : std::error_code();
  ::close(fd);
  if (ec) return std::unexpected(ec);
  std::string_view data(buffer, static_cast<std::size_t>(n));
  auto nl = data.find('\n');
  Header header;
  if (nl == std::string_view::npos || !parse_header(data.substr(0, nl), header))
    return std::unexpected(std::make_error_code(std::errc::illegal_byte_sequence));
  return header;
}

bool usable_guid(std::string_view guid) {
  if (guid.empty() || guid.size() > 200) return false;
  for (char c : guid) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string new_guid() {
  std::random_device device;
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) out += hex[device() & 15];
  return out;
}

std::expected<Contents, std::error_code> read(const std::filesystem::path& file,
                                              std::optional<std::pair<std::uint64_t, std::uint64_t>> from) {
  int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::unexpected(last_error());
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    auto ec = last_error();
    ::close(fd);
    return std::unexpected(ec);
  }
  Contents out;
  out.inode = st.st_ino;
  std::uint64_t start = 0;
  bool incremental = from && from->first == st.st_ino && from->second <= static_cast<std::uint64_t>(st.st_size);
  if (incremental) start = from->second;
  std::string data(static_cast<std::size_t>(st.st_size) - start, '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(start + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(done);

  if (!parse(data, incremental, out)) return std::unexpected(std::make_error_code(std::errc::illegal_byte_sequence));
  out.end += start;
  return out;
}

bool parse(std::string_view data, bool incremental, Contents& out) {
  std::size_t pos = 0;
  bool header_seen = incremental;
  while (pos < data.size()) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) break;  // a line still being written
    std::string_view line = data.substr(pos, nl - pos);
    pos = nl + 1;
    if (!header_seen) {
      if (!parse_header(line, out.header)) return false;
      header_seen = true;
      continue;
    }
    if (auto entry = parse_entry(line)) out.entries.push_back(std::move(*entry));
  }
  out.end = pos;
  return header_seen;
}

std::expected<std::pair<std::uint64_t, std::uint64_t>, std::error_code> rewrite(
    const std::filesystem::path& file, const Header& header, const std::vector<Entry>& entries) {
  std::string text = "3 V" + std::to_string(header.uidvalidity) + " N" + std::to_string(header.next_uid);
  if (!header.guid.empty()) text += " G" + header.guid;
  if (!header.other.empty()) text += " " + header.other;
  text += "\n";
  for (const auto& e : entries) text += line_of(e);

  // A name of this process's own, created exclusively: nothing planted
  // under a known name (a link roostd would follow and truncate) is opened.
  static std::atomic<std::uint64_t> rewrites{0};
  std::filesystem::path tmp = file;
  tmp += ".roost-tmp." + std::to_string(::getpid()) + "." + std::to_string(rewrites.fetch_add(1));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(last_error());
  std::error_code ec = write_all(fd, text);
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  struct stat st{};
  if (!ec && ::fstat(fd, &st) != 0) ec = last_error();
  ::close(fd);
  if (!ec && ::rename(tmp.c_str(), file.c_str()) != 0) ec = last_error();
  if (ec) {
    ::unlink(tmp.c_str());
    return std::unexpected(ec);
  }
  int dir = ::open(file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    if (::fsync(dir) != 0) ec = last_error();
    ::close(dir);
  }
  if (ec) return std::unexpected(ec);
  return std::pair<std::uint64_t, std::uint64_t>{st.st_ino, text.size()};
}

std::expected<std::uint64_t, std::error_code> append(const std::filesystem::path& file,
                                                     const std::vector<Entry>& entries, bool durable) {
  int fd = ::open(file.c_str(), O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::unexpected(last_error());
  std::string text;
  // A crash may have left a line without its end: never glue onto it.
  struct stat before{};
  char last = '\n';
  if (::fstat(fd, &before) == 0 && before.st_size > 0) {
    if (::pread(fd, &last, 1, before.st_size - 1) != 1) last = '\n';
  }
  if (last != '\n') text += '\n';
  for (const auto& e : entries) text += line_of(e);
  std::error_code ec = write_all(fd, text);
  if (!ec && durable && ::fdatasync(fd) != 0) ec = last_error();
  struct stat st{};
  if (!ec && ::fstat(fd, &st) != 0) ec = last_error();
  ::close(fd);
  if (ec) return std::unexpected(ec);
  return static_cast<std::uint64_t>(st.st_size);
}

DovecotLock::~DovecotLock() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

namespace {

// Dovecot's own test: a lock whose writer is a process of this host that no
// longer exists, or one left untouched for two minutes, is stale.
bool stale_lock(const std::filesystem::path& path, const std::string& host) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return false;
  if (::time(nullptr) - st.st_mtime > 120) return true;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[256];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return false;
  std::string_view text(buffer, static_cast<std::size_t>(n));
  text = text.substr(0, text.find_first_of("\r\n"));
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.substr(colon + 1) != host) return false;
  pid_t pid = 0;
  auto parsed = std::from_chars(text.data(), text.data() + colon, pid);
  if (parsed.ec != std::errc() || pid <= 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

std::expected<DovecotLock, std::error_code> DovecotLock::take(const std::filesystem::path& uidlist,
                                                              std::chrono::milliseconds timeout) {
  std::filesystem::path path = uidlist;
  path += ".lock";
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string content = std::to_string(::getpid()) + ":" + host;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::error_code ec = write_all(fd, content);
      ::close(fd);
      if (ec) {
        ::unlink(path.c_str());
        return std::unexpected(ec);
      }
      return DovecotLock(std::move(path));
    }
    if (errno != EEXIST) return std::unexpected(last_error());
    if (stale_lock(path, host)) {
      ::unlink(path.c_str());
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::unexpected(std::make_error_code(std::errc::timed_out));
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

bool dovecot_serves(const std::filesystem::path& dir) {
  struct stat st{};
  return ::lstat((dir / "dovecot.index.log").c_str(), &st) == 0;
}

std::uint32_t allocate_uidvalidity(const std::filesystem::path& user_root, std::uint32_t now) {
  int fd = ::open((user_root / "roost-uidvalidity").c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return now;
  std::uint32_t chosen = now;
  if (::flock(fd, LOCK_EX) == 0) {
    char text[16];
    ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
    std::string_view last(text, got > 0 ? static_cast<std::size_t>(got) : 0);
    while (!last.empty() && (last.back() == '\n' || last.back() == ' ')) last.remove_suffix(1);
    if (auto previous = number(last); previous && *previous >= chosen && *previous < std::numeric_limits<std::uint32_t>::max()) chosen = *previous + 1;
    std::string line = std::to_string(chosen) + "\n";
    if (::pwrite(fd, line.data(), line.size(), 0) == static_cast<ssize_t>(line.size()))
      (void)::ftruncate(fd, static_cast<off_t>(line.size()));
  }
  ::close(fd);
  return chosen;
}

}  // namespace roost::storage::uidlist

#include "quota.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "maildir.hpp"

namespace roost::storage::quota {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFile = "maildirsize";
constexpr std::string_view kLimitsFile = "roost-quota";
constexpr std::uintmax_t kRecountSize = 5120;

void count_dir(const fs::path& dir, Usage& usage) {
  for (const char* sub : {"new", "cur"}) {
    DIR* d = ::opendir((dir / sub).c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      maildir::FileName parsed = maildir::parse(name);
      std::int64_t size = 0;
      if (parsed.size) {
        size = static_cast<std::int64_t>(*parsed.size);
      } else {
        struct stat st{};
        if (::stat((dir / sub / std::string(name)).c_str(), &st) == 0) size = st.st_size;
      }
      usage.bytes += size;
      ++usage.messages;
    }
    ::closedir(d);
  }
}

}  // namespace

void add(const fs::path& root, std::int64_t bytes, std::int64_t messages) {
  int fd = ::open((root / kFile).c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;  // no file yet: the next read recounts
  std::string line = std::to_string(bytes) + " " + std::to_string(messages) + "\n";
  (void)::write(fd, line.data(), line.size());
  ::close(fd);
}

Usage recount(const fs::path& root, const Limits& limits) {
  Usage usage;
  count_dir(root, usage);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name != ".." && !entry.is_symlink() && entry.is_directory())
      count_dir(entry.path(), usage);
  }
  std::string text = std::to_string(limits.bytes) + "S," + std::to_string(limits.messages) + "C\n" +
                     std::to_string(usage.bytes) + " " + std::to_string(usage.messages) + "\n";
  fs::path tmp = root / "maildirsize.roost-tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (ok) ::rename(tmp.c_str(), (root / kFile).c_str());
    else ::unlink(tmp.c_str());
  }
  return usage;
}

std::optional<Usage> parse(std::string_view text) {
  std::size_t first_end = text.find('\n');
  if (first_end == std::string_view::npos) return std::nullopt;
  // Each value is capped far below what could overflow a sum of them.
  constexpr std::int64_t kCap = std::int64_t{1} << 50;
  enum class Read { number, junk, absurd };
  auto number = [](std::string_view& rest, std::int64_t& out) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && (out > kCap || out < -kCap))) return Read::absurd;
    if (ec != std::errc()) return Read::junk;
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    return Read::number;
  };
  Usage usage;
  std::size_t pos = first_end + 1;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    std::int64_t bytes = 0, messages = 0;
    Read first = number(line, bytes);
    Read second = first == Read::number ? number(line, messages) : Read::junk;
    if (first == Read::absurd || second == Read::absurd) return std::nullopt;  // not ours to trust: recount
    if (second != Read::number) continue;
    usage.bytes += bytes;
    usage.messages += messages;
    if (usage.bytes > kCap || usage.messages > kCap || usage.bytes < -kCap || usage.messages < -kCap)
      return std::nullopt;
  }
  if (usage.bytes < 0 || usage.messages < 0) return std::nullopt;
  return usage;
}

Usage read(const fs::path& root, const Limits& limits) {
  std::error_code ec;
  auto size = fs::file_size(root / kFile, ec);
  if (ec || size >= kRecountSize) return recount(root, limits);
  auto text = maildir::read_file(root / kFile);
  auto usage = text ? parse(*text) : std::nullopt;
  return usage ? *usage : recount(root, limits);
}

std::optional<Limits> parse_limits(std::string_view text) {
  // "<bytes>S,<count>C\n", nothing else.
  std::string_view rest = text;
  Limits limits;
  auto number = [&](std::uint64_t& out, char suffix) {
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out);
    if (ec != std::errc() || end == rest.data() + rest.size() || *end != suffix) return false;
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()) + 1);
    return true;
  };
  if (!number(limits.bytes, 'S') || !rest.starts_with(',')) return std::nullopt;
  rest.remove_prefix(1);
  if (!number(limits.messages, 'C') || (rest != "\n" && !rest.empty())) return std::nullopt;
  return limits;
}

std::string render_limits(const Limits& limits) {
  return std::to_string(limits.bytes) + "S," + std::to_string(limits.messages) + "C\n";
}

std::optional<Limits> read_limits(const fs::path& root) {
  auto text = maildir::read_file(root / kLimitsFile);
  return text ? parse_limits(*text) : std::nullopt;
}

std::error_code write_limits(const fs::path& root, const std::optional<Limits>& limits) {
  if (!limits) {
    if (::unlink((root / kLimitsFile).c_str()) != 0 && errno != ENOENT) return {errno, std::generic_category()};
    return {};
  }
  return maildir::replace_file(root / kLimitsFile, render_limits(*limits));
}

}  // namespace roost::storage::quota

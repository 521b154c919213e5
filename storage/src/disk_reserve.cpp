#include "disk_reserve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace roost::storage {

namespace {

// Given back per index write that found the disk full: a few hundred pages,
// what a flag change or an expunge of many messages writes.
constexpr std::uint64_t kSlice = std::uint64_t{1} << 20;

}  // namespace

DiskReserve::DiskReserve(std::filesystem::path file, std::uint64_t bytes) : file_(std::move(file)), bytes_(bytes) {}

void DiskReserve::make_once() {
  std::call_once(made_, [this] {
    std::lock_guard lock(mutex_);
    short_ = !refill();
  });
}

bool DiskReserve::refill() {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  // Only a lack of space keeps mail out; a reserve that cannot exist at all
  // (a link planted there, no permission) is no reason to.
  if (fd < 0) return errno != ENOSPC && errno != EDQUOT;
  struct stat st{};
  int failed = ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ? EINVAL : 0;
  if (failed == 0 && static_cast<std::uint64_t>(st.st_blocks) * 512 < bytes_)
    failed = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes_));
  ::close(fd);
  return failed != ENOSPC && failed != EDQUOT;
}

bool DiskReserve::release() {
  if (bytes_ == 0) return false;
  make_once();
  std::lock_guard lock(mutex_);
  int fd = ::open(file_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st{};
  bool released = false;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    released = ::ftruncate(fd, static_cast<off_t>(size - std::min(size, kSlice))) == 0;
  }
  ::close(fd);
  if (released) short_ = true;
  return released;
}

bool DiskReserve::short_of_room() {
  if (bytes_ == 0) return false;
  make_once();
  if (!short_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mutex_);
  if (!short_) return false;
  struct statvfs fs{};
  struct stat st{};
  if (::statvfs(file_.parent_path().c_str(), &fs) != 0) return true;
  const std::uint64_t held = ::stat(file_.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < bytes_ - std::min(held, bytes_) + bytes_) return true;
  short_ = !refill();
  return short_;
}

}  // namespace roost::storage

// Space held back on the mail file system ([mail] disk_reserve): a file of
// that size, made at the first use (after roostd gave up root, so that the
// file is the mail user's). When the disk is full, index writes take it
// back a slice at a time (index::EnvRegistry::set_room_maker), so that users
// can still open folders, change flags and expunge mail to make room; while
// any of it is given away, new mail (deliveries, APPEND, COPY) is refused
// with a temporary error, and once the file system has room for the whole
// reserve and as much again, the reserve is taken again and mail flows.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>

namespace roost::storage {

class DiskReserve {
 public:
  // `bytes` 0: no reserve (nothing is held back, nothing refused).
  DiskReserve(std::filesystem::path file, std::uint64_t bytes);
  // Frees a slice of the reserve; false when none is left.
  bool release();
  // True while part of the reserve is given away and the file system has
  // not room enough to take it back (which this tries).
  bool short_of_room();

 private:
  bool refill();  // with mutex_ held
  void make_once();

  std::once_flag made_;
  std::mutex mutex_;
  const std::filesystem::path file_;
  const std::uint64_t bytes_;
  std::atomic<bool> short_{false};
};

}  // namespace roost::storage

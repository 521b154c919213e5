// Waiting for a folder to change (IDLE, NOTIFY): every commit by any Roost
// process bumps the folder's change file, and other programs touch new/ and
// cur/; one inotify instance per event loop watches those paths for every
// session waiting on that loop (fs.inotify.max_user_instances is only 128
// per uid, so never one per session).
//
// Not thread-safe: use a watcher from the one thread that runs its
// executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>

#include "roost/storage/storage.hpp"

namespace roost::storage {

class ChangeWatcher {
 public:
  explicit ChangeWatcher(const boost::asio::any_io_executor& executor);
  ~ChangeWatcher();
  ChangeWatcher(const ChangeWatcher&) = delete;
  ChangeWatcher& operator=(const ChangeWatcher&) = delete;

  // Completes when the folder may have changed (true) or after `timeout`
  // (false), whichever comes first; the caller then refreshes its view.
  // Without inotify (limits reached) it simply waits `timeout`: the slow
  // poll that is always the fallback.
  boost::asio::awaitable<bool> wait(const FolderView& view, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace roost::storage

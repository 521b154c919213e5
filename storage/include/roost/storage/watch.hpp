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
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "roost/storage/storage.hpp"

namespace roost::storage {

class ChangeWatcher {
 public:
  explicit ChangeWatcher(const boost::asio::any_io_executor& executor);
  ~ChangeWatcher();
  ChangeWatcher(const ChangeWatcher&) = delete;
  ChangeWatcher& operator=(const ChangeWatcher&) = delete;

  // The watcher of an event loop, made on first use and destroyed with the
  // loop (an asio service of the io_context).
  static ChangeWatcher& of(boost::asio::io_context& context);

  // Stops watching: later waits only time out.
  void close();

  // Calls `on_change` on the watcher's thread each time the folder may
  // have changed, until the subscription is destroyed (IDLE). Without
  // inotify it never calls: the caller's own timeout is the poll.
  class Subscription {
   public:
    Subscription(Subscription&&) noexcept;
    Subscription& operator=(Subscription&&) noexcept;
    ~Subscription();

   private:
    friend class ChangeWatcher;
    struct State;
    explicit Subscription(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
  };
  Subscription subscribe(const FolderView& view, std::function<void()> on_change);
  // The same for any paths (User::watch_paths()): `on_change` learns the
  // position of the path in `paths` and the name of the entry that changed
  // in it (empty for the path itself). A path that cannot be watched (gone,
  // or inotify's limits reached) is skipped.
  Subscription subscribe(const std::vector<std::filesystem::path>& paths,
                         std::function<void(std::size_t, std::string_view)> on_change);

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

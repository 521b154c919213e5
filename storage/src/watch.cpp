#include "roost/storage/watch.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <cstring>
#include <map>
#include <vector>

namespace roost::storage {

namespace asio = boost::asio;

namespace {

constexpr std::uint32_t kEvents =
    IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

struct ChangeWatcher::Impl : std::enable_shared_from_this<Impl> {
  explicit Impl(const asio::any_io_executor& executor) : executor(executor), stream(executor) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd >= 0) stream.assign(fd);
  }

  struct Waiter {
    asio::steady_timer* timer;
    bool changed = false;
  };
  struct Watch {
    int refs = 0;
    std::vector<Waiter*> waiters;
  };

  asio::any_io_executor executor;
  asio::posix::stream_descriptor stream;
  std::map<int, Watch> watches;  // by watch descriptor
  bool reading = false;

  int add(const std::filesystem::path& path) {
    if (!stream.is_open()) return -1;
    int wd = ::inotify_add_watch(stream.native_handle(), path.c_str(), kEvents);
    if (wd >= 0) ++watches[wd].refs;
    return wd;
  }

  void release(int wd, Waiter* waiter) {
    auto it = watches.find(wd);
    if (it == watches.end()) return;
    std::erase(it->second.waiters, waiter);
    // inotify hands out one descriptor per path: drop it with the last user.
    if (--it->second.refs == 0) {
      ::inotify_rm_watch(stream.native_handle(), wd);
      watches.erase(it);
    }
  }

  void start_reading() {
    if (reading || !stream.is_open()) return;
    reading = true;
    asio::co_spawn(executor, read_loop(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<Impl> self) {
    // Events are copied out: a coroutine frame does not promise the
    // buffer inotify_event's alignment.
    std::vector<char> buffer(8192);
    while (!self->watches.empty()) {
      auto [ec, n] = co_await self->stream.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
        int wd = 0;
        std::uint32_t name_length = 0;
        std::memcpy(&wd, buffer.data() + at + offsetof(inotify_event, wd), sizeof wd);
        std::memcpy(&name_length, buffer.data() + at + offsetof(inotify_event, len), sizeof name_length);
        at += sizeof(inotify_event) + name_length;
        auto it = self->watches.find(wd);
        if (it == self->watches.end()) continue;
        for (Waiter* w : it->second.waiters) {
          w->changed = true;
          w->timer->cancel();
        }
      }
    }
    self->reading = false;
  }
};

ChangeWatcher::ChangeWatcher(const asio::any_io_executor& executor) : impl_(std::make_shared<Impl>(executor)) {}

ChangeWatcher::~ChangeWatcher() {
  if (impl_->stream.is_open()) impl_->stream.close();
}

asio::awaitable<bool> ChangeWatcher::wait(const FolderView& view, std::chrono::milliseconds timeout) {
  std::shared_ptr<Impl> impl = impl_;
  asio::steady_timer timer(impl->executor);
  timer.expires_after(timeout);
  Impl::Waiter waiter{&timer};
  // The change file exists from the first commit on; make sure it does now.
  int fd = ::open(view.change_file().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  std::vector<int> wds;
  for (const auto& path : view.watch_paths()) {
    int wd = impl->add(path);
    if (wd < 0) continue;
    wds.push_back(wd);
    impl->watches[wd].waiters.push_back(&waiter);
  }
  impl->start_reading();
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  for (int wd : wds) impl->release(wd, &waiter);
  co_return waiter.changed;
}

}  // namespace roost::storage

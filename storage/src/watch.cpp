#include "roost/storage/watch.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <functional>
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
    // The position of the watched path in the waiter's list, and the name
    // of the entry that changed in it (empty for the path itself).
    std::function<void(std::size_t, std::string_view)> notify;
    std::vector<int> wds;  // by path position; -1 where a path could not be watched
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

  // Watches `paths` for `waiter` (its wds).
  void watch(const std::vector<std::filesystem::path>& paths, Waiter* waiter) {
    for (const auto& path : paths) {
      int wd = add(path);
      waiter->wds.push_back(wd);
      if (wd >= 0) watches[wd].waiters.push_back(waiter);
    }
    start_reading();
  }

  void release(Waiter* waiter) {
    for (int wd : waiter->wds)
      if (wd >= 0) release(wd, waiter);
    waiter->wds.clear();
  }

  // The change file exists from the first commit on; make sure it does now.
  static std::vector<std::filesystem::path> folder_paths(const FolderView& view) {
    int fd = ::open(view.change_file().c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    return view.watch_paths();
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
        const char* name_start = buffer.data() + at + sizeof(inotify_event);
        at += sizeof(inotify_event) + name_length;
        if (at > n) break;
        // The name is NUL-padded to its field's length.
        std::string_view entry(name_start, ::strnlen(name_start, name_length));
        auto it = self->watches.find(wd);
        if (it == self->watches.end()) continue;
        std::vector<Waiter*> waiters = it->second.waiters;  // a notification may release a watch
        for (Waiter* w : waiters) {
          auto position = std::find(w->wds.begin(), w->wds.end(), wd);
          if (position != w->wds.end()) w->notify(static_cast<std::size_t>(position - w->wds.begin()), entry);
        }
      }
    }
    self->reading = false;
  }
};

namespace {

// One watcher per event loop, living and dying with it: asio destroys an
// io_context's services before the reactor they use, after every coroutine
// still suspended in the loop is gone.
class WatcherService : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit WatcherService(asio::execution_context& context)
      : asio::execution_context::service(context), watcher(static_cast<asio::io_context&>(context).get_executor()) {}
  void shutdown() override { watcher.close(); }
  ChangeWatcher watcher;
};

}  // namespace

ChangeWatcher& ChangeWatcher::of(asio::io_context& context) { return asio::use_service<WatcherService>(context).watcher; }

ChangeWatcher::ChangeWatcher(const asio::any_io_executor& executor) : impl_(std::make_shared<Impl>(executor)) {}

ChangeWatcher::~ChangeWatcher() { close(); }

void ChangeWatcher::close() {
  if (impl_->stream.is_open()) {
    boost::system::error_code ignored;
    impl_->stream.close(ignored);
  }
}

asio::awaitable<bool> ChangeWatcher::wait(const FolderView& view, std::chrono::milliseconds timeout) {
  std::shared_ptr<Impl> impl = impl_;
  asio::steady_timer timer(impl->executor);
  timer.expires_after(timeout);
  bool changed = false;
  Impl::Waiter waiter{[&](std::size_t, std::string_view) {
    changed = true;
    timer.cancel();
  }};
  impl->watch(Impl::folder_paths(view), &waiter);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  impl->release(&waiter);
  co_return changed;
}

struct ChangeWatcher::Subscription::State {
  std::shared_ptr<Impl> impl;
  Impl::Waiter waiter;
};

ChangeWatcher::Subscription::Subscription(std::unique_ptr<State> state) : state_(std::move(state)) {}
ChangeWatcher::Subscription::Subscription(Subscription&&) noexcept = default;
ChangeWatcher::Subscription& ChangeWatcher::Subscription::operator=(Subscription&&) noexcept = default;

ChangeWatcher::Subscription::~Subscription() {
  if (state_) state_->impl->release(&state_->waiter);
}

ChangeWatcher::Subscription ChangeWatcher::subscribe(const FolderView& view, std::function<void()> on_change) {
  return subscribe(Impl::folder_paths(view),
                   [on_change = std::move(on_change)](std::size_t, std::string_view) { on_change(); });
}

ChangeWatcher::Subscription ChangeWatcher::subscribe(const std::vector<std::filesystem::path>& paths,
                                                     std::function<void(std::size_t, std::string_view)> on_change) {
  auto state = std::make_unique<Subscription::State>();
  state->impl = impl_;
  state->waiter.notify = std::move(on_change);
  impl_->watch(paths, &state->waiter);
  return Subscription(std::move(state));
}

}  // namespace roost::storage

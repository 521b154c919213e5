// Running work that may block (storage, fsync, LMDB writes) on the blocking
// pool and resuming the session's coroutine on its own event loop.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

#include "roost/core/server.hpp"

namespace roost {

namespace detail {
// Only a pointer to the work crosses into the pool coroutine: g++ 12
// miscompiles class-type coroutine parameters that hold short strings.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_pointed(F* work) {
  co_return (*work)();
}
}  // namespace detail

// `work` lives in the caller's (suspended) frame until the pool is done.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> on_blocking_pool(Session& session, F& work) {
  co_return co_await asio::co_spawn(session.server.runtime().blocking(), detail::run_pointed(&work),
                                    asio::use_awaitable);
}

}  // namespace roost

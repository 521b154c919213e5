#include "roost/core/connection.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <cstring>

#include "roost/core/deflate.hpp"
#include "roost/core/tls.hpp"

namespace roost {

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t read_chunk = 4096;
}  // namespace

std::string_view to_string(ReadStatus status) {
  switch (status) {
    case ReadStatus::ok: return "ok";
    case ReadStatus::closed: return "closed";
    case ReadStatus::timeout: return "timeout";
    case ReadStatus::too_long: return "too_long";
    case ReadStatus::stopped: return "stopped";
    case ReadStatus::error: return "error";
    case ReadStatus::interrupted: return "interrupted";
  }
  return "?";
}

std::string Peer::to_string() const {
  if (is_unix || !ip) return "unix";
  if (ip->is_v4()) return ip->to_string() + ":" + std::to_string(port);
  return "[" + ip->to_string() + "]:" + std::to_string(port);
}

Connection::Connection(Socket socket, Peer peer)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      peer_(std::move(peer)) {
  // OpenSSL and our own reads use the descriptor directly; it must never block.
  boost::system::error_code ec;
  socket_.native_non_blocking(true, ec);
  // Replies are written whole; Nagle's algorithm would only hold back the
  // last segment of a TLS flight or a reply for the peer's delayed ACK (40 ms).
  if (!peer_.is_unix) {
    int on = 1;
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

int Connection::fd() { return socket_.native_handle(); }

void Connection::request_stop(StopReason reason) {
  if (stop_reason_ == StopReason::none) stop_reason_ = reason;
  boost::system::error_code ec;
  socket_.cancel(ec);
}

void Connection::interrupt() {
  interrupted_ = true;
  boost::system::error_code ec;
  socket_.cancel(ec);
}

void Connection::post_stop(const std::weak_ptr<Connection>& connection, StopReason reason) {
  if (auto c = connection.lock()) {
    asio::post(c->executor(), [c, reason] { c->request_stop(reason); });
  }
}

// The deadline is a plain timer whose handler cancels the socket wait: far
// cheaper per idle connection than racing two awaitables with operator||,
// which allocates a parallel group and two coroutine frames. The generation
// number makes a handler from an earlier wait harmless.
std::optional<ReadStatus> Connection::arm_deadline(Deadline deadline, bool stoppable) {
  if (stoppable && stop_requested()) return ReadStatus::stopped;
  if (stoppable && interrupted_) {
    interrupted_ = false;
    return ReadStatus::interrupted;
  }
  if (std::chrono::steady_clock::now() >= deadline) return ReadStatus::timeout;
  const auto generation = ++wait_generation_;
  timed_out_ = false;
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
    if (ec || generation != self->wait_generation_) return;
    self->timed_out_ = true;
    boost::system::error_code ignored;
    self->socket_.cancel(ignored);
  });
  return std::nullopt;
}

std::optional<ReadStatus> Connection::settle_wait(boost::system::error_code ec, bool stoppable) {
  ++wait_generation_;
  timer_.cancel();
  if (timed_out_) return ReadStatus::timeout;
  if (ec == asio::error::operation_aborted) {
    // Cancelled by request_stop() or interrupt(): reads end, writes carry
    // on to the deadline.
    if (stoppable && stop_requested()) return ReadStatus::stopped;
    if (stoppable && interrupted_) {
      interrupted_ = false;
      return ReadStatus::interrupted;
    }
    return std::nullopt;
  }
  return ec ? ReadStatus::error : ReadStatus::ok;
}

asio::awaitable<ReadStatus> Connection::wait(Wait what, Deadline deadline, bool stoppable) {
  auto type = what == Wait::read ? Socket::wait_read : Socket::wait_write;
  for (;;) {
    if (auto early = arm_deadline(deadline, stoppable)) co_return *early;
    auto [ec] = co_await socket_.async_wait(type, nothrow);
    if (auto done = settle_wait(ec, stoppable)) co_return *done;
  }
}

void Connection::park(Deadline deadline, std::move_only_function<void()> wake) {
  const bool ready = in_begin_ != in_end_ || (ssl_ != nullptr && SSL_has_pending(ssl_) == 1) ||
                     (compression_ && compression_->output_pending()) || !out_.empty() ||
                     !compressed_out_.empty() || stop_requested() || interrupted_ ||
                     std::chrono::steady_clock::now() >= deadline;
  if (ready) {
    asio::post(executor(), std::move(wake));
    return;
  }
  release_input_if_empty();
  if (compression_) compression_->release_idle();
  // The output buffer keeps the capacity of the largest reply so far; a
  // parked session gives it back.
  std::string().swap(out_);
  std::string().swap(compressed_out_);
  arm_deadline(deadline, true);
  // The flags the deadline, interrupt() and request_stop() set stay for the
  // read after the wake to report.
  socket_.async_wait(Socket::wait_read,
                     [self = shared_from_this(), wake = std::move(wake)](boost::system::error_code) mutable {
                       ++self->wait_generation_;
                       self->timer_.cancel();
                       wake();
                     });
}

void Connection::release_input_if_empty() {
  if (in_begin_ == in_end_) {
    in_.reset();
    in_capacity_ = 0;
    in_begin_ = in_end_ = 0;
  }
}

void Connection::reserve_input(std::size_t want) {
  if (in_capacity_ - in_end_ >= want) return;
  std::size_t used = in_end_ - in_begin_;
  std::size_t capacity = std::max(want, (used + want) * 2);
  auto bigger = std::make_unique<char[]>(capacity);
  if (used > 0) std::memcpy(bigger.get(), in_.get() + in_begin_, used);
  in_ = std::move(bigger);
  in_capacity_ = capacity;
  in_begin_ = 0;
  in_end_ = used;
}

std::ptrdiff_t Connection::inflate_input() {
  if (!compression_->output_pending()) return 0;
  reserve_input(read_chunk);
  auto produced = compression_->decompress(in_.get() + in_end_, in_capacity_ - in_end_);
  if (produced > 0) in_end_ += static_cast<std::size_t>(produced);
  return produced;
}

// Appends at least one byte to the input buffer, or reports why not.
asio::awaitable<ReadStatus> Connection::fill(Deadline deadline) {
  for (;;) {
    if (stop_requested()) co_return ReadStatus::stopped;
    if (compression_) {
      // Compressed input already here may hold what is wanted.
      const auto produced = inflate_input();
      if (produced < 0) co_return ReadStatus::error;
      if (produced > 0) co_return ReadStatus::ok;
    }
    bool tls_has_data = ssl_ != nullptr && SSL_has_pending(ssl_) == 1;
    if (!tls_has_data) {
      if (compression_ && in_begin_ == in_end_ && compressed_out_.empty()) compression_->release_idle();
      // Wait with no buffer allocated: this is where idle sessions sit. The
      // wait is written out here rather than calling wait(), to save a
      // coroutine frame per idle connection.
      std::optional<ReadStatus> waited;
      while (!waited) {
        if ((waited = arm_deadline(deadline, true))) break;
        auto [ec] = co_await socket_.async_wait(Socket::wait_read, nothrow);
        waited = settle_wait(ec, true);
      }
      if (*waited != ReadStatus::ok) co_return *waited;
    }
    // Received bytes go to the input buffer, or first through the
    // decompressor.
    char* dest = nullptr;
    std::size_t room = 0;
    if (compression_) {
      dest = compression_->input_space(read_chunk, room);
    } else {
      reserve_input(read_chunk);
      dest = in_.get() + in_end_;
      room = in_capacity_ - in_end_;
    }
    std::size_t got = 0;
    std::optional<ReadStatus> outcome;
    if (ssl_ == nullptr) {
      ssize_t n = ::recv(fd(), dest, room, MSG_DONTWAIT);
      if (n > 0) got = static_cast<std::size_t>(n);
      else if (n == 0) outcome = ReadStatus::closed;
      else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) outcome = ReadStatus::error;
    } else {
      ERR_clear_error();
      int rc = SSL_read_ex(ssl_, dest, room, &got);
      if (rc != 1) {
        got = 0;
        switch (SSL_get_error(ssl_, rc)) {
          case SSL_ERROR_WANT_READ:
            break;
          case SSL_ERROR_WANT_WRITE: {
            auto waited = co_await wait(Wait::write, deadline, true);
            if (waited != ReadStatus::ok) outcome = waited;
            break;
          }
          case SSL_ERROR_ZERO_RETURN:
            outcome = ReadStatus::closed;
            break;
          case SSL_ERROR_SYSCALL:
            ERR_clear_error();
            outcome = errno == 0 ? ReadStatus::closed : ReadStatus::error;
            break;
          default:
            ERR_clear_error();
            outcome = ReadStatus::error;
        }
      }
    }
    if (compression_) compression_->received(got);
    if (outcome) co_return *outcome;
    if (got == 0) continue;
    bytes_in_ += got;
    if (!compression_) {
      in_end_ += got;
      co_return ReadStatus::ok;
    }
  }
}

asio::awaitable<ReadStatus> Connection::read_line(std::string& line, std::size_t max,
                                                  Duration timeout, bool* crlf) {
  line.clear();
  // One deadline for the whole line: a client sending a byte at a time
  // does not extend it.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool overflow = false;
  std::size_t scanned = 0;  // bytes of the buffer already searched for LF
  for (;;) {
    const char* begin = in_.get() + in_begin_;
    std::size_t have = in_end_ - in_begin_;
    const void* lf = have > scanned ? std::memchr(begin + scanned, '\n', have - scanned) : nullptr;
    if (lf != nullptr) {
      std::size_t len = static_cast<const char*>(lf) - begin;
      in_begin_ += len + 1;
      const bool ended_crlf = len > 0 && begin[len - 1] == '\r';
      if (crlf != nullptr) *crlf = ended_crlf;
      std::size_t content = ended_crlf ? len - 1 : len;
      overflow = overflow || content > max;
      if (!overflow) line.assign(begin, content);
      release_input_if_empty();
      co_return overflow ? ReadStatus::too_long : ReadStatus::ok;
    }
    if (have > max + 1) {
      // Too long: drop what we have and keep discarding up to the next LF so
      // that the stream stays in step.
      overflow = true;
      in_begin_ = in_end_;
      release_input_if_empty();
      scanned = 0;
    } else {
      scanned = have;
    }
    auto status = co_await fill(deadline);
    if (status != ReadStatus::ok) co_return status;
  }
}

asio::awaitable<ReadStatus> Connection::read_exact(std::string& out, std::size_t n,
                                                   Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;  // for all n bytes
  while (n > 0) {
    std::size_t have = in_end_ - in_begin_;
    if (have > 0) {
      std::size_t take = std::min(have, n);
      out.append(in_.get() + in_begin_, take);
      in_begin_ += take;
      n -= take;
      release_input_if_empty();
      continue;
    }
    auto status = co_await fill(deadline);
    if (status != ReadStatus::ok) co_return status;
  }
  co_return ReadStatus::ok;
}

std::size_t Connection::discard_buffered_input() {
  std::size_t dropped = in_end_ - in_begin_;
  in_begin_ = in_end_;
  release_input_if_empty();
  return dropped;
}

bool Connection::send(std::string_view bytes) {
  if (out_.size() + bytes.size() > output_limit_) return false;
  out_.append(bytes);
  return true;
}

Connection::WriteStep Connection::write_some(const char* data, std::size_t size) {
  if (ssl_ == nullptr) {
    ssize_t n = ::send(fd(), data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return {static_cast<std::size_t>(n), WriteStep::State::progress};
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return {0, WriteStep::State::want_write};
    }
    return {0, WriteStep::State::failed};
  }
  std::size_t written = 0;
  ERR_clear_error();
  if (SSL_write_ex(ssl_, data, size, &written) == 1) {
    return {written, WriteStep::State::progress};
  }
  switch (SSL_get_error(ssl_, 0)) {
    case SSL_ERROR_WANT_WRITE: return {0, WriteStep::State::want_write};
    case SSL_ERROR_WANT_READ: return {0, WriteStep::State::want_read};
    default: ERR_clear_error(); return {0, WriteStep::State::failed};
  }
}

asio::awaitable<bool> Connection::send_flowing(std::string_view bytes, Duration timeout) {
  const std::size_t chunk = std::max<std::size_t>(output_limit_ / 2, 4096);
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, chunk);
    if (out_.size() + piece.size() > output_limit_ || out_.size() >= chunk) {
      if (!co_await flush(timeout)) co_return false;
    }
    if (!send(piece)) co_return false;
    bytes.remove_prefix(piece.size());
  }
  co_return true;
}

std::size_t Connection::buffered_output() const { return out_.size() + compressed_out_.size(); }

void Connection::start_compression() { compression_ = std::make_unique<DeflateLayer>(); }

std::size_t Connection::compression_bytes() const {
  return compression_ ? compression_->retained_bytes() + compressed_out_.capacity() : 0;
}

asio::awaitable<bool> Connection::flush(Duration timeout) {
  // A stop request must not cut a reply short; only the deadline can.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (compression_ && !out_.empty()) {
    if (!compression_->compress(out_, compressed_out_)) co_return false;
    out_.clear();
  }
  std::string& pending = compression_ ? compressed_out_ : out_;
  std::size_t done = 0;
  bool ok = true;
  while (ok && done < pending.size()) {
    auto step = write_some(pending.data() + done, pending.size() - done);
    done += step.written;
    switch (step.state) {
      case WriteStep::State::progress: break;
      case WriteStep::State::failed: ok = false; break;
      case WriteStep::State::want_read:
      case WriteStep::State::want_write: {
        auto what = step.state == WriteStep::State::want_read ? Wait::read : Wait::write;
        ok = co_await wait(what, deadline, false) == ReadStatus::ok;
        break;
      }
    }
  }
  bytes_out_ += done;
  pending.erase(0, done);
  for (std::string* buffer : {&out_, &compressed_out_})
    if (buffer->empty() && buffer->capacity() > 4096) std::string().swap(*buffer);
  co_return ok;
}

asio::awaitable<std::expected<proxy_protocol::Header, std::string>>
Connection::read_proxy_header(Duration timeout) {
  // Peek, so that bytes after the header (a TLS ClientHello, a command) stay
  // in the socket; consume only what the parser says is header.
  std::vector<std::uint8_t> header;
  std::vector<std::uint8_t> peeked(proxy_protocol::max_header);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto waited = co_await wait(Wait::read, deadline, true);
    if (waited != ReadStatus::ok) {
      co_return std::unexpected("no PROXY header (" + std::string(to_string(waited)) + ")");
    }
    ssize_t n = ::recv(fd(), peeked.data(), proxy_protocol::max_header - header.size(),
                       MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) co_return std::unexpected("connection closed before the PROXY header");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      co_return std::unexpected(std::string("recv: ") + std::strerror(errno));
    }
    std::vector<std::uint8_t> candidate = header;
    candidate.insert(candidate.end(), peeked.begin(), peeked.begin() + n);
    auto parsed = proxy_protocol::parse(candidate);
    if (parsed.status == proxy_protocol::Status::invalid) co_return std::unexpected(parsed.error);
    // Complete: take exactly the header's remaining bytes. Need more: every
    // byte seen so far is header, take them all and wait for the rest.
    std::size_t take = parsed.status == proxy_protocol::Status::complete
                           ? parsed.header.length - header.size()
                           : static_cast<std::size_t>(n);
    std::size_t got = 0;
    while (got < take) {
      ssize_t r = ::recv(fd(), peeked.data() + got, take - got, MSG_DONTWAIT);
      if (r <= 0) co_return std::unexpected("connection failed inside the PROXY header");
      got += static_cast<std::size_t>(r);
    }
    header.insert(header.end(), peeked.begin(), peeked.begin() + take);
    if (parsed.status == proxy_protocol::Status::complete) co_return parsed.header;
  }
}

asio::awaitable<std::expected<void, std::string>> Connection::start_tls(ssl_ctx_st* context,
                                                                        Duration timeout) {
  if (ssl_ != nullptr) co_return std::unexpected("TLS is already active");
  ssl_ = SSL_new(context);
  if (ssl_ == nullptr) co_return std::unexpected(take_openssl_errors());
  if (SSL_set_fd(ssl_, fd()) != 1) co_return std::unexpected(take_openssl_errors());
  SSL_set_accept_state(ssl_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) co_return std::expected<void, std::string>{};
    int err = SSL_get_error(ssl_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      std::string why = err == SSL_ERROR_SYSCALL ? "connection closed during TLS handshake"
                                                 : take_openssl_errors();
      ERR_clear_error();
      co_return std::unexpected(why);
    }
    auto waited =
        co_await wait(err == SSL_ERROR_WANT_READ ? Wait::read : Wait::write, deadline, true);
    if (waited != ReadStatus::ok) {
      co_return std::unexpected("TLS handshake " + std::string(to_string(waited)));
    }
  }
}

std::string Connection::tls_description() const {
  if (ssl_ == nullptr) return "";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

unsigned Connection::tls_cipher_bits() const {
  if (ssl_ == nullptr) return 0;
  return static_cast<unsigned>(SSL_get_cipher_bits(ssl_, nullptr));
}

std::optional<std::vector<std::uint8_t>> Connection::tls_exporter() const {
  // tls-exporter is TLS 1.3's channel binding (RFC 9266); over TLS 1.2
  // clients bind with tls-unique (RFC 5929), which Roost does not offer: no
  // binding there, so no -PLUS mechanism that such a client would fail.
  if (ssl_ == nullptr || SSL_version(ssl_) < TLS1_3_VERSION) return std::nullopt;
  std::vector<std::uint8_t> out(32);
  static constexpr char label[] = "EXPORTER-Channel-Binding";
  if (SSL_export_keying_material(ssl_, out.data(), out.size(), label, sizeof label - 1, nullptr,
                                 0, 0) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

asio::awaitable<void> Connection::close() {
  if (ssl_ != nullptr) {
    // Best effort close_notify; the peer may already be gone.
    ERR_clear_error();
    if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
  }
  boost::system::error_code ec;
  socket_.shutdown(Socket::shutdown_both, ec);
  socket_.close(ec);
  co_return;
}

}  // namespace roost

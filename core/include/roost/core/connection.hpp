// One client connection: a TCP or UNIX stream socket, plain or TLS, with line
// and exact-length reads under deadlines and an ordered output queue.
//
// Memory while idle is the design constraint (DESIGN.md, LIBRARY-FACTS §5):
// an idle connection waits for readability with no read buffer allocated, and
// TLS drives OpenSSL directly on the socket (SSL_set_fd) with
// SSL_MODE_RELEASE_BUFFERS, so neither our buffers nor OpenSSL's record
// buffers are held between commands.
//
// A Connection belongs to one io_context thread: every member function must
// be called on its executor. request_stop() from elsewhere goes through
// post_stop().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/net_address.hpp"
#include "roost/core/proxy_protocol.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace roost {

namespace asio = boost::asio;
class DeflateLayer;

enum class ReadStatus {
  ok,
  closed,    // the peer closed the connection
  timeout,   // the deadline passed
  too_long,  // a line exceeded its limit; the rest of it was discarded
  stopped,   // the server is shutting down or the session was kicked
  error,     // a socket or TLS error
  interrupted,  // interrupt() woke the read; nothing was consumed
};

std::string_view to_string(ReadStatus status);

// Why a connection was asked to stop, so that the service can say goodbye in
// the right words (IMAP "* BYE Server shutting down" vs "* BYE Disconnected
// by administrator").
enum class StopReason { none, shutdown, kicked };

struct Peer {
  std::optional<IpAddress> ip;  // absent for UNIX socket clients
  std::uint16_t port = 0;
  bool is_unix = false;

  bool is_loopback() const { return is_unix || (ip && ip->is_loopback()); }
  std::string to_string() const;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // On the io_context's own executor type (a connection never leaves the
  // thread that accepted it): smaller than the polymorphic executor, in the
  // socket and in every operation waiting on it.
  using Socket = asio::basic_stream_socket<asio::generic::stream_protocol, asio::io_context::executor_type>;
  using Duration = std::chrono::milliseconds;
  using Deadline = std::chrono::steady_clock::time_point;

  Connection(Socket socket, Peer peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::io_context::executor_type executor() { return socket_.get_executor(); }
  const Peer& peer() const { return peer_; }
  void set_peer(Peer peer) { peer_ = std::move(peer); }

  // Reads one line, without its line ending (CRLF or bare LF). A line
  // longer than `max` is consumed up to its end and answered too_long.
  // `timeout` is for the whole line (and in read_exact for all n bytes),
  // not renewed by each byte that arrives.
  // `crlf`, when given, learns whether the line ended with CRLF rather than
  // a bare LF (SMTP's end of data is CRLF "." CRLF and nothing else).
  asio::awaitable<ReadStatus> read_line(std::string& line, std::size_t max, Duration timeout,
                                        bool* crlf = nullptr);

  // Reads exactly n bytes (a literal, a BDAT chunk), appended to `out`.
  asio::awaitable<ReadStatus> read_exact(std::string& out, std::size_t n, Duration timeout);

  // Waits for the client with no coroutine, so that an idle session can let
  // its frames go: `wake` runs on this connection's executor when input
  // arrives, `deadline` passes, or interrupt() or request_stop() is called;
  // at once (posted) when input is buffered, output is unwritten or one of
  // those already holds. The read after the wake tells which it was.
  void park(Deadline deadline, std::move_only_function<void()> wake);

  // Input received but not yet consumed by a read.
  std::size_t buffered_input() const { return in_end_ - in_begin_; }
  // Drops buffered input; returns how many bytes were dropped. STARTTLS uses
  // it so that plaintext pipelined after the command is never executed.
  std::size_t discard_buffered_input();

  // Queues bytes for the client. Returns false, queuing nothing, when the
  // queue would grow past the output limit: the client is not reading.
  bool send(std::string_view bytes);
  // Writes everything queued. False if the connection failed or the write
  // deadline passed.
  asio::awaitable<bool> flush(Duration timeout);
  // Queues a response of any size: what does not fit under the output
  // limit is written out first (each write under `timeout`), so a large
  // response never grows the buffer past the limit. False if the client
  // stopped reading or the connection failed.
  asio::awaitable<bool> send_flowing(std::string_view bytes, Duration timeout);
  void set_output_limit(std::size_t bytes) { output_limit_ = bytes; }
  std::size_t output_limit() const { return output_limit_; }
  // Bytes queued and not yet written.
  std::size_t buffered_output() const;

  // COMPRESS=DEFLATE (RFC 4978): from now on everything sent is compressed
  // and everything received decompressed (beneath TLS, RFC 4978 §3). Flush
  // the go-ahead first: it must go out as it is.
  void start_compression();
  bool compression_active() const { return compression_ != nullptr; }
  // What the compression layer holds now (for the memory tests and metrics).
  std::size_t compression_bytes() const;

  // Reads a PROXY protocol header consuming exactly its bytes.
  asio::awaitable<std::expected<proxy_protocol::Header, std::string>> read_proxy_header(
      Duration timeout);

  // Server-side TLS handshake on this socket (implicit TLS or STARTTLS).
  asio::awaitable<std::expected<void, std::string>> start_tls(ssl_ctx_st* context,
                                                              Duration timeout);
  bool tls_active() const { return ssl_ != nullptr; }
  std::string tls_description() const;  // "TLSv1.3 TLS_AES_256_GCM_SHA384"
  unsigned tls_cipher_bits() const;
  // RFC 9266 tls-exporter channel binding data (32 bytes); none below TLS 1.3.
  std::optional<std::vector<std::uint8_t>> tls_exporter() const;

  // Sends TLS close_notify if needed and closes the socket.
  asio::awaitable<void> close();

  // Wakes any pending read with `stopped`; later reads return `stopped` too.
  // The first reason given is kept.
  void request_stop(StopReason reason);
  bool stop_requested() const { return stop_reason_ != StopReason::none; }
  // Wakes the pending read (or the next one) with `interrupted`, once,
  // leaving the connection usable: IDLE uses it when a folder changes.
  void interrupt();
  StopReason stop_reason() const { return stop_reason_; }
  // Thread-safe: posts request_stop() to the connection's executor.
  static void post_stop(const std::weak_ptr<Connection>& connection, StopReason reason);

  std::uint64_t bytes_in() const { return bytes_in_; }
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  enum class Wait { read, write };
  struct WriteStep {
    std::size_t written = 0;
    enum class State { progress, want_read, want_write, failed } state = State::progress;
  };
  // Waits for the socket until `deadline`. A stoppable wait ends with
  // `stopped` on request_stop(); a write keeps waiting to its deadline.
  asio::awaitable<ReadStatus> wait(Wait what, Deadline deadline, bool stoppable);
  // The two halves of wait(): arm returns a status if there is nothing to
  // wait for; settle returns nullopt if the wait must be repeated.
  std::optional<ReadStatus> arm_deadline(Deadline deadline, bool stoppable);
  std::optional<ReadStatus> settle_wait(boost::system::error_code ec, bool stoppable);
  WriteStep write_some(const char* data, std::size_t size);
  asio::awaitable<ReadStatus> fill(Deadline deadline);
  // Room for `want` more bytes at the end of the input buffer.
  void reserve_input(std::size_t want);
  // Decompresses what the compression layer holds into the input buffer;
  // the bytes produced, or -1 for a broken stream.
  std::ptrdiff_t inflate_input();
  void release_input_if_empty();
  int fd();

  Socket socket_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                             asio::io_context::executor_type>
      timer_;
  Peer peer_;
  ssl_st* ssl_ = nullptr;

  // Input buffer, allocated only while bytes are in it or being read.
  std::unique_ptr<char[]> in_;
  std::size_t in_capacity_ = 0;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;

  std::string out_;
  std::size_t output_limit_ = 1 << 20;
  std::unique_ptr<DeflateLayer> compression_;
  std::string compressed_out_;  // compressed, not yet written

  StopReason stop_reason_ = StopReason::none;
  std::uint32_t wait_generation_ = 0;
  bool timed_out_ = false;
  bool interrupted_ = false;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

}  // namespace roost

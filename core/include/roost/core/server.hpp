// The network runtime that every protocol service plugs into: one io_context
// per thread (a session stays on the thread that accepted it), a bounded
// pool for blocking work, listeners on TCP and UNIX sockets, connection
// limits, PROXY protocol, implicit TLS, graceful shutdown on SIGTERM and
// reload on SIGHUP.
//
// A protocol service implements Service::serve() as one coroutine per
// connection. It reads and writes through the Session's Connection and
// returns when the conversation is over; the server closes the socket. A
// service may instead park the session while the client owes the next move
// (Session::park): serve() returns, its frames are freed, and the server
// calls it again when the client moves.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "roost/core/config.hpp"
#include "roost/core/connection.hpp"
#include "roost/core/log.hpp"
#include "roost/core/metrics.hpp"
#include "roost/core/tls.hpp"

namespace roost {

class Authenticator;
class CredentialSource;
class Server;

// Threads and event loops. Sessions are spread round-robin over io_contexts,
// each run by exactly one thread, so session code needs no strands.
class Runtime {
 public:
  Runtime(unsigned io_threads, unsigned blocking_threads, unsigned auth_threads);
  ~Runtime();

  asio::io_context& next_io();
  asio::io_context& main_io() { return *ios_.front(); }
  asio::thread_pool& blocking() { return blocking_; }
  asio::thread_pool& auth() { return auth_; }
  unsigned io_threads() const { return static_cast<unsigned>(ios_.size()); }

  // Runs every io_context until stop(); the calling thread runs the first.
  void run();
  // Thread-safe.
  void stop();
  // Stops, joins the pools and destroys the event loops with any coroutine
  // still suspended in them. Call before what those coroutines use goes away.
  void shutdown();

 private:
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::atomic<std::size_t> next_{0};
  asio::thread_pool blocking_;
  asio::thread_pool auth_;
};

// What roostctl who shows, one per live connection.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string service;
  std::string user;
  std::string remote;
  std::chrono::system_clock::time_point since;
  std::string state;
};

// Live sessions across all threads. Thread-safe.
class SessionRegistry {
 public:
  std::uint64_t add(SessionInfo info, std::weak_ptr<Connection> connection);
  void remove(std::uint64_t id);
  void set_user(std::uint64_t id, std::string user);
  void set_state(std::uint64_t id, std::string state);
  std::vector<SessionInfo> list() const;
  // Asks every session of `user` to end; returns how many were asked.
  std::size_t kick(const std::string& user);
  void stop_all();
  std::size_t size() const;

 private:
  struct Entry {
    SessionInfo info;
    std::weak_ptr<Connection> connection;
  };
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Entry> sessions_;
  std::uint64_t next_id_ = 1;
};

// Connections in total and per client address. Thread-safe.
class ConnectionLimiter {
 public:
  enum class Verdict { ok, too_many, too_many_from_address };
  void configure(unsigned max_total, unsigned max_per_address);
  Verdict acquire_total();
  void release_total();
  Verdict acquire_address(const IpAddress& address);
  void release_address(const IpAddress& address);

 private:
  std::mutex mutex_;
  unsigned max_total_ = 0;
  unsigned max_per_address_ = 0;
  unsigned total_ = 0;
  std::map<IpAddress, unsigned> per_address_;
};

enum class Refusal { too_many_connections, too_many_from_address, shutting_down };

struct Session;

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string_view name() const = 0;
  // The line sent before closing a connection that is refused at once.
  virtual std::string refusal(Refusal why) const = 0;
  virtual asio::awaitable<void> serve(Session& session) = 0;
};

// Creates the service for a [listener] whose service= names it.
struct ServiceFactory {
  std::string_view name;
  std::function<std::unique_ptr<Service>(Server&)> create;
  // Run by the server itself (admin socket, metrics); never named by a
  // [listener], so that the admin protocol cannot be put on a TCP port.
  bool internal = false;
};

// Checks that every listener names a service in `factories`; the error names
// the listener and what this build has.
std::expected<void, std::string> check_services(const Config& config,
                                                const std::vector<ServiceFactory>& factories);

// What a service keeps of a session across parking (Session::park).
struct SessionState {
  virtual ~SessionState() = default;
};

// One connection as a service sees it.
struct Session {
  Server& server;
  std::shared_ptr<Connection> connection;
  std::shared_ptr<const Config> config;  // as it was when the connection arrived
  const ListenerConfig& listener;
  std::uint64_t id = 0;
  std::string id_text;
  std::string user;
  std::string remote;
  // Set by serve() just before it returns: keep the connection, and call
  // serve() again when input arrives, `park_until` passes, or the
  // connection is interrupted or stopped (Connection::park). Only between
  // commands, with every reply written. park() sets it when it may be.
  std::optional<std::chrono::steady_clock::time_point> park_until;
  // Set by the server when it calls serve() again after parking.
  bool resumed = false;
  // When the connection was accepted: the time before login is counted
  // from here, however many commands (NOOP) the client sends meanwhile.
  std::chrono::steady_clock::time_point accepted = std::chrono::steady_clock::now();
  // When the wait for the next command began: kept across parking, so that
  // a wake that brings no command (a NOTIFY report) restarts no timer.
  std::optional<std::chrono::steady_clock::time_point> waiting_since;
  // The service's own state, kept while the session is parked. Last, so
  // that it goes before what it may refer to.
  std::unique_ptr<SessionState> state;

  log::Context log_context() const;
  void set_user(std::string name);
  void set_state(std::string state);
  // May cleartext credentials be accepted on this connection right now?
  bool plaintext_allowed() const;

  // The services' read loops, between commands. When the wait for the next
  // command ends: `limit` after the first call since command_received().
  std::chrono::steady_clock::time_point wait_deadline(std::chrono::steady_clock::duration limit);
  void command_received() { waiting_since.reset(); }
  // The end of the time allowed before login ([limits] login_timeout after
  // the connection was accepted), for every read before authentication.
  std::chrono::steady_clock::time_point login_deadline() const;
  // Parks until `deadline` (serve() must then return) unless input is
  // buffered or serve() was just resumed: what woke it, input or an
  // interrupt or the deadline, is for a read to tell first.
  bool park(std::chrono::steady_clock::time_point deadline);
};

class Server {
 public:
  // Users log in against `credentials` (the directory roostd opened).
  Server(std::shared_ptr<const Config> config, std::vector<ServiceFactory> factories,
         std::shared_ptr<const CredentialSource> credentials);
  ~Server();

  // Binds every listener. Errors name the listener and the reason.
  std::expected<void, std::string> start();
  // Runs until SIGTERM/SIGINT (or stop()) and the graceful shutdown finish.
  void run();
  // Thread-safe: begins a graceful shutdown.
  void stop();

  Runtime& runtime() { return runtime_; }
  std::shared_ptr<const Config> config() const;
  std::shared_ptr<TlsContext> tls() const;
  Authenticator& auth() { return *auth_; }
  SessionRegistry& sessions() { return sessions_; }
  Metrics& metrics() { return metrics_; }

  // Re-reads the configuration file: TLS certificate and key, limits, log
  // level. Listeners and thread counts need a restart.
  std::expected<void, std::string> reload();

  // The bound address of each listener (with its real port when the
  // configuration asked for port 0), for tests and the startup log.
  std::vector<std::pair<std::string, std::string>> bound_addresses() const;

 private:
  struct Listener;
  // Connection limits one connection holds; released when it ends.
  struct Slot {
    ConnectionLimiter& limiter;
    bool total = false;
    std::optional<IpAddress> address;
    ~Slot();
  };
  asio::awaitable<bool> admit(Connection& connection, Listener& listener, const Config& config,
                              Slot& slot);
  // An admitted connection: its session, its limits and its listener.
  struct Live;
  // Runs the service until the session ends (then closes the connection)
  // or parks (then waits for the client with no coroutine, and runs again).
  asio::awaitable<void> converse(std::unique_ptr<Live> live);
  asio::awaitable<void> accept_loop(Listener& listener, std::size_t acceptor);
  asio::awaitable<void> handle(Connection::Socket socket, Listener& listener);
  asio::awaitable<void> watch_signals();
  asio::awaitable<void> shutdown_sequence();
  void apply_runtime_settings(const Config& config);

  mutable std::mutex config_mutex_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<TlsContext> tls_;
  Runtime runtime_;
  std::vector<ServiceFactory> factories_;
  std::shared_ptr<const CredentialSource> credentials_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<Authenticator> auth_;
  SessionRegistry sessions_;
  ConnectionLimiter limiter_;
  Metrics metrics_;
  std::atomic<bool> stopping_{false};
  // Made in start(), so that a signal arriving right after startup is ours.
  std::unique_ptr<asio::signal_set> signals_;
};

}  // namespace roost

#include "roost/core/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>
#include <filesystem>
#include <thread>

#include "roost/core/auth.hpp"
#include "roost/core/builtin_services.hpp"

namespace roost {

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using GenericAcceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

// Completion for spawned coroutines: an exception escaping one is a bug;
// log it instead of letting log_escape swallow it.
void log_escape(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log::error({}, "coroutine_exception", {{"what", ex.what()}});
  } catch (...) {
    log::error({}, "coroutine_exception", {{"what", "unknown"}});
  }
}

Peer peer_of(const Connection::Socket& socket) {
  Peer peer;
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return peer;
  const sockaddr* sa = endpoint.data();
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    peer.ip = IpAddress::from_v4(ntohl(in->sin_addr.s_addr));
    peer.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    IpAddress ip;
    std::memcpy(ip.bytes.data(), in6->sin6_addr.s6_addr, 16);
    peer.ip = ip;
    peer.port = ntohs(in6->sin6_port);
  } else {
    peer.is_unix = true;
  }
  return peer;
}

std::string session_id_text(std::uint64_t id) {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuv";
  std::string out;
  do {
    out.insert(out.begin(), digits[id % 32]);
    id /= 32;
  } while (id != 0);
  return out;
}
}  // namespace

// ---------------------------------------------------------------- Runtime

Runtime::Runtime(unsigned io_threads, unsigned blocking_threads, unsigned auth_threads)
    : blocking_(blocking_threads), auth_(auth_threads) {
  if (io_threads == 0) io_threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < io_threads; ++i) {
    // Concurrency hint 1: each io_context is run by exactly one thread.
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*ios_.back()));
  }
}

Runtime::~Runtime() { shutdown(); }

void Runtime::shutdown() {
  stop();
  blocking_.join();
  auth_.join();
  // Destroying an io_context destroys the coroutines still suspended in it,
  // running their destructors while what they refer to is still alive.
  guards_.clear();
  ios_.clear();
}

asio::io_context& Runtime::next_io() {
  return *ios_[next_.fetch_add(1, std::memory_order_relaxed) % ios_.size()];
}

void Runtime::run() {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < ios_.size(); ++i) {
    threads.emplace_back([this, i] { ios_[i]->run(); });
  }
  ios_.front()->run();
  for (auto& t : threads) t.join();
}

void Runtime::stop() {
  for (auto& io : ios_) io->stop();
}

// ---------------------------------------------------------- SessionRegistry

std::uint64_t SessionRegistry::add(SessionInfo info, std::weak_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  info.id = next_id_++;
  auto id = info.id;
  sessions_.emplace(id, Entry{std::move(info), std::move(connection)});
  return id;
}

void SessionRegistry::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

void SessionRegistry::set_user(std::uint64_t id, std::string user) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second.info.user = std::move(user);
}

void SessionRegistry::set_state(std::uint64_t id, std::string state) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second.info.state = std::move(state);
}

std::vector<SessionInfo> SessionRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<SessionInfo> out;
  for (const auto& [id, entry] : sessions_) out.push_back(entry.info);
  return out;
}

std::size_t SessionRegistry::kick(const std::string& user) {
  std::vector<std::weak_ptr<Connection>> targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, entry] : sessions_) {
      if (entry.info.user == user) targets.push_back(entry.connection);
    }
  }
  for (const auto& t : targets) Connection::post_stop(t, StopReason::kicked);
  return targets.size();
}

void SessionRegistry::stop_all() {
  std::vector<std::weak_ptr<Connection>> targets;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, entry] : sessions_) targets.push_back(entry.connection);
  }
  for (const auto& t : targets) Connection::post_stop(t, StopReason::shutdown);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

// -------------------------------------------------------- ConnectionLimiter

void ConnectionLimiter::configure(unsigned max_total, unsigned max_per_address) {
  std::lock_guard lock(mutex_);
  max_total_ = max_total;
  max_per_address_ = max_per_address;
}

ConnectionLimiter::Verdict ConnectionLimiter::acquire_total() {
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return Verdict::too_many;
  ++total_;
  return Verdict::ok;
}

void ConnectionLimiter::release_total() {
  std::lock_guard lock(mutex_);
  --total_;
}

ConnectionLimiter::Verdict ConnectionLimiter::acquire_address(const IpAddress& address) {
  std::lock_guard lock(mutex_);
  auto& n = per_address_[address];
  if (n >= max_per_address_) {
    if (n == 0) per_address_.erase(address);
    return Verdict::too_many_from_address;
  }
  ++n;
  return Verdict::ok;
}

void ConnectionLimiter::release_address(const IpAddress& address) {
  std::lock_guard lock(mutex_);
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

// ------------------------------------------------------------------ Session

log::Context Session::log_context() const {
  return {.service = listener.service, .session = id_text, .user = user,
          .remote = remote};
}

void Session::set_user(std::string name) {
  user = name;
  server.sessions().set_user(id, std::move(name));
}

void Session::set_state(std::string state) { server.sessions().set_state(id, std::move(state)); }

std::chrono::steady_clock::time_point Session::wait_deadline(std::chrono::steady_clock::duration limit) {
  if (!waiting_since) waiting_since = std::chrono::steady_clock::now();
  return *waiting_since + limit;
}

std::chrono::steady_clock::time_point Session::login_deadline() const {
  return accepted + config->limits.login_timeout;
}

bool Session::park(std::chrono::steady_clock::time_point deadline) {
  if (std::exchange(resumed, false) || connection->buffered_input() > 0) return false;
  park_until = deadline;
  return true;
}

bool Session::plaintext_allowed() const {
  return connection->tls_active() ||
         (config->auth.allow_plaintext_loopback && connection->peer().is_loopback());
}

// ------------------------------------------------------------------- Server

struct Server::Listener {
  ListenerConfig config;
  std::unique_ptr<Service> service;
  bool service_is_internal = false;  // admin, metrics: not logged per connection
  std::vector<std::unique_ptr<GenericAcceptor>> acceptors;
  std::vector<std::string> bound;
};

Server::Server(std::shared_ptr<const Config> config, std::vector<ServiceFactory> factories,
               std::shared_ptr<const CredentialSource> credentials)
    : config_(std::move(config)),
      runtime_(config_->runtime.io_threads, config_->runtime.blocking_threads,
               config_->runtime.auth_threads),
      factories_(std::move(factories)),
      credentials_(std::move(credentials)) {
  factories_.push_back(admin_service_factory());
  factories_.push_back(metrics_service_factory());
  declare_standard_metrics(metrics_);
  apply_runtime_settings(*config_);
}

Server::~Server() {
  signals_.reset();
  // Acceptors still open (start() failed part-way, or the server never ran)
  // close while their io_context lives: closing one later reaches into the
  // freed reactor.
  for (auto& l : listeners_) {
    for (auto& a : l->acceptors) {
      boost::system::error_code ec;
      a->close(ec);
    }
  }
  runtime_.shutdown();
}

std::shared_ptr<const Config> Server::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

std::shared_ptr<TlsContext> Server::tls() const {
  std::lock_guard lock(config_mutex_);
  return tls_;
}

void Server::apply_runtime_settings(const Config& config) {
  log::set_level(config.log.level);
  log::set_syslog(config.log.syslog);
  limiter_.configure(config.limits.max_connections, config.limits.max_connections_per_ip);
  if (auth_) auth_->update_limits(config.auth);
}

namespace {

std::expected<std::unique_ptr<GenericAcceptor>, std::string> bind_tcp(asio::io_context& io,
                                                                      const asio::ip::address& ip,
                                                                      std::uint16_t port) {
  boost::system::error_code ec;
  asio::ip::tcp::endpoint endpoint(ip, port);
  auto acceptor = std::make_unique<GenericAcceptor>(io);
  acceptor->open(asio::generic::stream_protocol(endpoint.protocol()), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && ip.is_v6()) {
    int on = 1;
    ::setsockopt(acceptor->native_handle(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (!ec) acceptor->bind(asio::generic::stream_protocol::endpoint(endpoint), ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(ec.message());
  return acceptor;
}

std::expected<std::unique_ptr<GenericAcceptor>, std::string> bind_unix(asio::io_context& io,
                                                                       const std::string& path,
                                                                       std::uint32_t mode) {
  std::error_code fs_ec;
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), fs_ec);
  // A socket left by a previous run is replaced; anything else is not ours.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return std::unexpected("exists and is not a socket");
    ::unlink(path.c_str());
  }
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint endpoint(path);
  auto acceptor = std::make_unique<GenericAcceptor>(io);
  acceptor->open(asio::generic::stream_protocol(AF_UNIX, 0), ec);
  if (!ec) acceptor->bind(asio::generic::stream_protocol::endpoint(endpoint), ec);
  if (!ec && ::chmod(path.c_str(), mode) != 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
  }
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(ec.message());
  return acceptor;
}

std::string local_address(const GenericAcceptor& acceptor) {
  boost::system::error_code ec;
  auto endpoint = acceptor.local_endpoint(ec);
  if (ec) return "?";
  const sockaddr* sa = endpoint.data();
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return IpAddress::from_v4(ntohl(in->sin_addr.s_addr)).to_string() + ":" +
           std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    IpAddress ip;
    std::memcpy(ip.bytes.data(), in6->sin6_addr.s6_addr, 16);
    return "[" + ip.to_string() + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
  return std::string("unix:") + un->sun_path;
}

}  // namespace

std::expected<void, std::string> check_services(const Config& config,
                                                const std::vector<ServiceFactory>& factories) {
  for (const auto& l : config.listeners) {
    if (std::ranges::any_of(factories,
                            [&](const auto& f) { return !f.internal && f.name == l.service; })) {
      continue;
    }
    std::string known;
    for (const auto& f : factories) {
      if (f.internal) continue;
      known += known.empty() ? "" : ", ";
      known += f.name;
    }
    return std::unexpected(config.file.string() + ": listener '" + l.name + "': service '" +
                           l.service + "' is not available in this build (available: " +
                           (known.empty() ? "none" : known) + ")");
  }
  return {};
}

std::expected<void, std::string> Server::start() {
  auto config = this->config();
  if (auto known = check_services(*config, factories_); !known) return known;
  auto auth = Authenticator::create(*config, credentials_);
  if (!auth) return std::unexpected("authentication: " + auth.error());
  auth_ = std::move(*auth);
  metrics_.add_collector([auth = auth_.get()](Metrics& m) {
    m.series("roost_auth_cache_hits_total").store(static_cast<std::int64_t>(auth->cache_hits()),
                                                  std::memory_order_relaxed);
  });

  std::vector<ListenerConfig> wanted = config->listeners;
  wanted.push_back(ListenerConfig{.name = "admin",
                                  .service = "admin",
                                  .address = {.kind = ListenAddress::Kind::unix_socket,
                                              .path = config->admin.socket.string()},
                                  .socket_mode = 0600});
  if (config->metrics.listen) {
    wanted.push_back(
        ListenerConfig{.name = "metrics", .service = "metrics", .address = *config->metrics.listen});
  }

  bool any_tls = false;
  for (const auto& l : wanted) any_tls = any_tls || l.tls != TlsMode::none;
  if (any_tls) {
    auto tls = TlsContext::create(config->tls);
    if (!tls) return std::unexpected("[tls]: " + tls.error());
    tls_ = std::move(*tls);
  }

  for (const auto& l : wanted) {
    auto factory =
        std::ranges::find_if(factories_, [&](const auto& f) { return f.name == l.service; });
    auto listener = std::make_unique<Listener>();
    listener->config = l;
    listener->service = factory->create(*this);
    listener->service_is_internal = factory->internal;
    auto& io = runtime_.main_io();
    auto add = [&](std::expected<std::unique_ptr<GenericAcceptor>, std::string> acceptor)
        -> std::expected<void, std::string> {
      if (!acceptor) {
        return std::unexpected("listener '" + l.name + "' on " + l.address.to_string() + ": " +
                               acceptor.error());
      }
      listener->bound.push_back(local_address(**acceptor));
      listener->acceptors.push_back(std::move(*acceptor));
      return {};
    };
    std::expected<void, std::string> ok;
    if (l.address.kind == ListenAddress::Kind::unix_socket) {
      ok = add(bind_unix(io, l.address.path, l.socket_mode));
    } else if (l.address.host == "*") {
      ok = add(bind_tcp(io, asio::ip::address_v4::any(), l.address.port));
      if (ok) ok = add(bind_tcp(io, asio::ip::address_v6::any(), l.address.port));
    } else {
      ok = add(bind_tcp(io, asio::ip::make_address(l.address.host), l.address.port));
    }
    if (!ok) return ok;
    listeners_.push_back(std::move(listener));
  }
  signals_ = std::make_unique<asio::signal_set>(runtime_.main_io(), SIGTERM, SIGINT, SIGHUP);
  return {};
}

std::vector<std::pair<std::string, std::string>> Server::bound_addresses() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& l : listeners_) {
    for (const auto& b : l->bound) out.emplace_back(l->config.name, b);
  }
  return out;
}

void Server::run() {
  auto& io = runtime_.main_io();
  for (auto& l : listeners_) {
    for (const auto& b : l->bound) {
      log::info({.service = l->config.service}, "listening",
                {{"listener", l->config.name}, {"address", b},
                 {"tls", to_string(l->config.tls)}});
    }
    for (std::size_t i = 0; i < l->acceptors.size(); ++i) {
      asio::co_spawn(io, accept_loop(*l, i), log_escape);
    }
  }
  asio::co_spawn(io, watch_signals(), log_escape);
  runtime_.run();
  log::info({}, "stopped");
}

void Server::stop() {
  asio::co_spawn(runtime_.main_io(), shutdown_sequence(), log_escape);
}

asio::awaitable<void> Server::accept_loop(Listener& listener, std::size_t index) {
  auto& acceptor = *listener.acceptors[index];
  asio::steady_timer backoff(runtime_.main_io());
  for (;;) {
    auto& io = runtime_.next_io();
    auto [ec, socket] = co_await acceptor.async_accept(io, nothrow);
    if (stopping_ || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or memory: log, breathe, and try again.
      log::warning({.service = listener.config.service}, "accept_failed",
                   {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(nothrow);
      continue;
    }
    asio::co_spawn(io, handle(std::move(socket), listener), log_escape);
  }
}

Server::Slot::~Slot() {
  if (address) limiter.release_address(*address);
  if (total) limiter.release_total();
}

// Everything between accept and the service's greeting: limits, the PROXY
// header, implicit TLS. Kept out of handle() so that none of its temporaries
// stay in the frame of a session that then idles for hours.
asio::awaitable<bool> Server::admit(Connection& connection, Listener& listener,
                                    const Config& config, Slot& slot) {
  const auto& lc = listener.config;
  // Limits are routine; a PROXY problem is a misconfigured balancer or an
  // attempt to spoof addresses, worth a warning.
  auto refused = [&](std::string_view reason, LogLevel level = LogLevel::info) {
    metrics_.add("roost_connections_refused_total",
                 {{"service", lc.service}, {"reason", std::string(reason)}});
    if (log::enabled(level)) {
      log::write(level, {.service = lc.service, .remote = connection.peer().to_string()},
                 "refused", {{"reason", reason}});
    }
  };
  std::optional<Refusal> refusal;
  if (stopping_) {
    refused("shutting_down");
    refusal = Refusal::shutting_down;
  } else if (limiter_.acquire_total() != ConnectionLimiter::Verdict::ok) {
    refused("max_connections");
    refusal = Refusal::too_many_connections;
  }
  if (refusal) {
    connection.send(listener.service->refusal(*refusal));
    co_await connection.flush(std::chrono::seconds(2));
    co_return false;
  }
  slot.total = true;

  if (lc.proxy_protocol) {
    const auto& peer = connection.peer();
    bool trusted = peer.is_unix ||
                   std::ranges::any_of(config.proxy.trusted_networks, [&](const Cidr& c) {
                     return peer.ip && c.contains(*peer.ip);
                   });
    if (!trusted) {
      refused("proxy_untrusted", LogLevel::warning);
      co_return false;
    }
    auto header = co_await connection.read_proxy_header(config.proxy.header_timeout);
    if (!header) {
      log::warning({.service = lc.service, .remote = peer.to_string()}, "proxy_header_invalid",
                   {{"error", header.error()}});
      refused("proxy_invalid", LogLevel::warning);
      co_return false;
    }
    if (header->source) {
      connection.set_peer(Peer{.ip = header->source, .port = header->source_port});
    }
  }

  if (const auto& ip = connection.peer().ip) {
    if (limiter_.acquire_address(*ip) != ConnectionLimiter::Verdict::ok) {
      refused("max_connections_per_ip");
      connection.send(listener.service->refusal(Refusal::too_many_from_address));
      co_await connection.flush(std::chrono::seconds(2));
      co_return false;
    }
    slot.address = *ip;
  }

  if (lc.tls == TlsMode::implicit) {
    auto ok = co_await connection.start_tls(tls()->native(), config.limits.login_timeout);
    metrics_.add("roost_tls_handshakes_total",
                 {{"service", lc.service}, {"result", ok ? "ok" : "failed"}});
    if (!ok) {
      log::info({.service = lc.service, .remote = connection.peer().to_string()}, "tls_failed",
                {{"error", ok.error()}});
      co_return false;
    }
  }
  co_return true;
}

struct Server::Live {
  Live(ConnectionLimiter& limiter, Listener& listener, Session session)
      : slot{limiter}, listener(listener), session(std::move(session)) {}
  Slot slot;
  Listener& listener;
  Session session;
  std::atomic<std::int64_t>* gauge = nullptr;  // roost_connections, once admitted
};

asio::awaitable<void> Server::handle(Connection::Socket socket, Listener& listener) {
  const auto& lc = listener.config;
  auto peer = peer_of(socket);
  auto connection = std::make_shared<Connection>(std::move(socket), std::move(peer));
  auto live = std::make_unique<Live>(limiter_, listener, Session{*this, connection, config(), lc});
  const Config& config = *live->session.config;
  connection->set_output_limit(config.limits.max_output_buffer);
  metrics_.add("roost_connections_total", {{"service", lc.service}});

  if (!co_await admit(*connection, listener, config, live->slot)) {
    co_await connection->close();
    co_return;
  }

  Session& session = live->session;
  session.remote = connection->peer().to_string();
  session.id = sessions_.add(SessionInfo{.service = lc.service,
                                         .remote = session.remote,
                                         .since = std::chrono::system_clock::now(),
                                         .state = "connected"},
                             connection);
  session.id_text = session_id_text(session.id);
  live->gauge = &metrics_.series("roost_connections", {{"service", lc.service}});
  live->gauge->fetch_add(1, std::memory_order_relaxed);
  if (!listener.service_is_internal) {
    log::info(session.log_context(), "connect",
              {{"tls", connection->tls_active() ? connection->tls_description() : "no"}});
  }
  co_await converse(std::move(live));
}

asio::awaitable<void> Server::converse(std::unique_ptr<Live> live) {
  Session& session = live->session;
  co_await live->listener.service->serve(session);
  auto& connection = *session.connection;
  if (session.park_until) {
    const auto until = *session.park_until;
    session.park_until.reset();
    connection.park(until, [this, live = std::move(live)]() mutable {
      live->session.resumed = true;
      auto executor = live->session.connection->executor();
      asio::co_spawn(executor, converse(std::move(live)), log_escape);
    });
    co_return;
  }
  co_await connection.flush(session.config->limits.write_timeout);
  co_await connection.close();

  const auto& lc = live->listener.config;
  live->gauge->fetch_sub(1, std::memory_order_relaxed);
  metrics_.add("roost_bytes_received_total", {{"service", lc.service}},
               static_cast<std::int64_t>(connection.bytes_in()));
  metrics_.add("roost_bytes_sent_total", {{"service", lc.service}},
               static_cast<std::int64_t>(connection.bytes_out()));
  if (!live->listener.service_is_internal) {
    log::info(session.log_context(), "disconnect",
              {{"in", connection.bytes_in()}, {"out", connection.bytes_out()}});
  }
  sessions_.remove(session.id);
}

asio::awaitable<void> Server::watch_signals() {
  for (;;) {
    auto [ec, signal] = co_await signals_->async_wait(nothrow);
    if (ec) co_return;
    if (signal == SIGHUP) {
      // Reading files does not belong on an io thread.
      auto result = co_await asio::co_spawn(
          runtime_.blocking(),
          [this]() -> asio::awaitable<std::expected<void, std::string>> { co_return reload(); },
          asio::use_awaitable);
      if (result) {
        log::info({}, "reloaded");
      } else {
        log::error({}, "reload_failed", {{"error", result.error()}});
      }
      continue;
    }
    log::info({}, "shutdown", {{"signal", signal == SIGTERM ? "TERM" : "INT"}});
    co_await shutdown_sequence();
    co_return;
  }
}

asio::awaitable<void> Server::shutdown_sequence() {
  if (stopping_.exchange(true)) co_return;
  for (auto& l : listeners_) {
    for (auto& a : l->acceptors) {
      boost::system::error_code ec;
      a->close(ec);
      if (l->config.address.kind == ListenAddress::Kind::unix_socket) {
        ::unlink(l->config.address.path.c_str());
      }
    }
  }
  // Sessions waiting for a command say goodbye and end; those inside a
  // command finish it first. Whatever is left at the deadline is cut off.
  sessions_.stop_all();
  auto deadline = std::chrono::steady_clock::now() + config()->runtime.shutdown_timeout;
  asio::steady_timer timer(runtime_.main_io());
  while (sessions_.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(nothrow);
    sessions_.stop_all();
  }
  if (sessions_.size() > 0) {
    log::warning({}, "shutdown_forced", {{"sessions", sessions_.size()}});
  }
  runtime_.stop();
}

std::expected<void, std::string> Server::reload() {
  auto current = config();
  auto fresh = load_config(current->file);
  if (!fresh) return std::unexpected(fresh.error().message);
  std::shared_ptr<TlsContext> tls;
  if (!fresh->tls.certificate.empty() && !fresh->tls.key.empty()) {
    auto created = TlsContext::create(fresh->tls);
    if (!created) return std::unexpected("[tls]: " + created.error());
    tls = std::move(*created);
  }
  auto listeners_changed = fresh->listeners.size() != current->listeners.size();
  for (std::size_t i = 0; !listeners_changed && i < fresh->listeners.size(); ++i) {
    const auto& a = fresh->listeners[i];
    const auto& b = current->listeners[i];
    listeners_changed = a.name != b.name || a.service != b.service ||
                        a.address.to_string() != b.address.to_string() || a.tls != b.tls ||
                        a.proxy_protocol != b.proxy_protocol;
  }
  if (listeners_changed) {
    log::warning({}, "reload_listeners_unchanged",
                 {{"reason", "listener changes take effect at the next restart"}});
    fresh->listeners = current->listeners;
  }
  auto next = std::make_shared<const Config>(std::move(*fresh));
  {
    std::lock_guard lock(config_mutex_);
    config_ = next;
    if (tls) tls_ = std::move(tls);
  }
  apply_runtime_settings(*next);
  return {};
}

}  // namespace roost

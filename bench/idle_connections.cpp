// Memory per idle connection: starts a daemon on loopback, opens N
// connections that complete their greeting (and, for TLS, the handshake),
// lets them sit idle, and reports the daemon's resident memory per
// connection: over all of them, and over the second half alone (what each
// further connection costs once the first ones have used up what the
// warm-up left free). Plain and TLS are measured in turn, each against a fresh
// daemon. With --service test (the default) the daemon is roost-testd and a
// connection idles after its greeting; with --service imap it is roostd and
// each connection logs in, selects INBOX and sits in IDLE (imap-deflate:
// after COMPRESS DEFLATE, RFC 4978); with --service pop3 each logs in (a shared maildrop) and waits in the TRANSACTION state.
// --messages M puts M small messages in that INBOX first (as another
// delivery agent would, into new/), so that what a session keeps per
// message of its mailbox shows.
//
//   idle_connections [--connections N] [--mode plain|tls|both] [--service test|imap|imap-deflate|pop3]
//                    [--messages M] [--bin DIR]
//
// The client runs in this process, the server in its own, so the numbers are
// the server's alone. Kernel socket memory (about 3.5 KiB per socket, not in
// RSS) is not counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Reads until a line that starts with `prefix` (or fails).
bool read_until(int fd, SSL* ssl, const std::string& prefix) {
  std::string got;
  char buf[512];
  for (;;) {
    std::size_t start = 0;
    for (std::size_t eol; (eol = got.find("\r\n", start)) != std::string::npos; start = eol + 2) {
      if (got.compare(start, prefix.size(), prefix) == 0) return true;
    }
    got.erase(0, start);
    int n = ssl != nullptr ? SSL_read(ssl, buf, sizeof buf)
                           : static_cast<int>(::read(fd, buf, sizeof buf));
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
}

bool write_all(int fd, SSL* ssl, const std::string& text) {
  int n = ssl != nullptr ? SSL_write(ssl, text.data(), static_cast<int>(text.size()))
                         : static_cast<int>(::write(fd, text.data(), text.size()));
  return n == static_cast<int>(text.size());
}

enum class Service { test, imap, imap_deflate, pop3 };

// The client's side of COMPRESS=DEFLATE (RFC 4978): a raw deflate stream
// each way, flushed after every command.
struct Deflated {
  z_stream out{}, in{};
  Deflated() {
    deflateInit2(&out, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&in, -15);
  }
  ~Deflated() {
    deflateEnd(&out);
    inflateEnd(&in);
  }
  bool write(int fd, SSL* ssl, const std::string& text) {
    std::string wire(text.size() + 64, '\0');
    out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    out.avail_in = static_cast<uInt>(text.size());
    out.next_out = reinterpret_cast<Bytef*>(wire.data());
    out.avail_out = static_cast<uInt>(wire.size());
    if (deflate(&out, Z_SYNC_FLUSH) != Z_OK) return false;
    wire.resize(wire.size() - out.avail_out);
    return write_all(fd, ssl, wire);
  }
  bool read_until(int fd, SSL* ssl, const std::string& prefix) {
    std::string got;
    char buf[512], plain[4096];
    for (;;) {
      std::size_t start = 0;
      for (std::size_t eol; (eol = got.find("\r\n", start)) != std::string::npos; start = eol + 2) {
        if (got.compare(start, prefix.size(), prefix) == 0) return true;
      }
      got.erase(0, start);
      int n = ssl != nullptr ? SSL_read(ssl, buf, sizeof buf) : static_cast<int>(::read(fd, buf, sizeof buf));
      if (n <= 0) return false;
      in.next_in = reinterpret_cast<Bytef*>(buf);
      in.avail_in = static_cast<uInt>(n);
      do {
        in.next_out = reinterpret_cast<Bytef*>(plain);
        in.avail_out = sizeof plain;
        int rc = inflate(&in, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
        got.append(plain, sizeof plain - in.avail_out);
      } while (in.avail_out == 0);
    }
  }
};

// The greeting; for IMAP then LOGIN, SELECT INBOX and IDLE; for POP3 USER and PASS.
bool settle(int fd, SSL* ssl, Service service) {
  switch (service) {
    case Service::test: return read_until(fd, ssl, "");  // any greeting line
    case Service::imap:
      return read_until(fd, ssl, "* OK") && write_all(fd, ssl, "a LOGIN alice bench-pass\r\n") &&
             read_until(fd, ssl, "a OK") && write_all(fd, ssl, "b SELECT INBOX\r\n") &&
             read_until(fd, ssl, "b OK") && write_all(fd, ssl, "c IDLE\r\n") && read_until(fd, ssl, "+ idling");
    case Service::imap_deflate: {
      if (!(read_until(fd, ssl, "* OK") && write_all(fd, ssl, "a LOGIN alice bench-pass\r\n") &&
            read_until(fd, ssl, "a OK") && write_all(fd, ssl, "z COMPRESS DEFLATE\r\n") &&
            read_until(fd, ssl, "z OK")))
        return false;
      Deflated z;
      return z.write(fd, ssl, "b SELECT INBOX\r\n") && z.read_until(fd, ssl, "b OK") &&
             z.write(fd, ssl, "c IDLE\r\n") && z.read_until(fd, ssl, "+ idling");
    }
    case Service::pop3:
      return read_until(fd, ssl, "+OK") && write_all(fd, ssl, "USER alice\r\nPASS bench-pass\r\n") &&
             read_until(fd, ssl, "+OK Logged in");
  }
  return false;
}

struct Daemon {
  pid_t pid = -1;
  int port = 0;
};

Daemon start_daemon(const fs::path& bin, const fs::path& dir, bool tls, Service service) {
  const std::string program = service == Service::test ? "roost-testd" : "roostd";
  const char* name = service == Service::imap || service == Service::imap_deflate ? "imap" : service == Service::pop3 ? "pop3" : "test";
  Daemon d;
  d.port = free_port();
  std::ofstream conf(dir / "roost.conf", std::ios::trunc);
  conf << "data_dir = data\nrun_dir = run\n" << (::geteuid() == 0 ? "[server]\nrun_as_root = true\n" : "")
       << "[log]\nlevel = warning\n"
       << "[runtime]\nio_threads = 2\n"
       << "[limits]\nmax_connections = 200000\nmax_connections_per_ip = 200000\n"
       << "[tls]\ncertificate = tls/cert.pem\nkey = tls/key.pem\n"
       << "[auth]\nallow_plaintext_loopback = true\n"
       << "[pop3]\nexclusive_maildrop = false\n"
       << "[listener bench]\nservice = " << name << "\naddress = 127.0.0.1:" << d.port
       << "\ntls = " << (tls ? "implicit" : "none") << "\n";
  conf.close();
  d.pid = ::fork();
  if (d.pid == 0) {
    auto exe = (bin / program).string();
    auto cfg = (dir / "roost.conf").string();
    ::execl(exe.c_str(), exe.c_str(), "--config", cfg.c_str(), static_cast<char*>(nullptr));
    std::perror("exec");
    std::_Exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    int fd = connect_to(d.port);
    if (fd >= 0) {
      ::close(fd);
      return d;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "daemon did not start\n";
  std::exit(1);
}

void stop_daemon(const Daemon& d) {
  ::kill(d.pid, SIGTERM);
  int status = 0;
  ::waitpid(d.pid, &status, 0);
}

struct Result {
  long before_kib = 0;
  long half_kib = 0;  // with the first half open
  long after_kib = 0;
  int opened = 0;
  int half = 0;
};

Result measure(const fs::path& bin, const fs::path& dir, bool tls, int n, Service service) {
  Daemon d = start_daemon(bin, dir, tls, service);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);

  auto open_one = [&](std::vector<int>& fds, std::vector<SSL*>& ssls) {
    int fd = connect_to(d.port);
    if (fd < 0) return false;
    SSL* ssl = nullptr;
    if (tls) {
      ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        ::close(fd);
        return false;
      }
    }
    if (!settle(fd, ssl, service)) {
      if (ssl != nullptr) SSL_free(ssl);
      ::close(fd);
      return false;
    }
    fds.push_back(fd);
    ssls.push_back(ssl);
    return true;
  };
  auto close_all = [](std::vector<int>& fds, std::vector<SSL*>& ssls) {
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (ssls[i] != nullptr) SSL_free(ssls[i]);
      ::close(fds[i]);
    }
    fds.clear();
    ssls.clear();
  };

  // Warm up: let allocator arenas and thread caches reach their steady size.
  std::vector<int> fds;
  std::vector<SSL*> ssls;
  for (int i = 0; i < 200; ++i) open_one(fds, ssls);
  close_all(fds, ssls);
  std::this_thread::sleep_for(std::chrono::seconds(1));

  Result r;
  r.before_kib = rss_kib(d.pid);
  for (int i = 0; i < n; ++i) {
    if (i == n / 2) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      r.half = i;
      r.half_kib = rss_kib(d.pid);
    }
    if (!open_one(fds, ssls)) break;
  }
  r.opened = static_cast<int>(fds.size());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  r.after_kib = rss_kib(d.pid);
  close_all(fds, ssls);
  SSL_CTX_free(ctx);
  stop_daemon(d);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 10000;
  int messages = 0;
  std::string mode = "both";
  Service service = Service::test;
  fs::path bin = fs::canonical("/proc/self/exe").parent_path();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--connections" && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (a == "--mode" && i + 1 < argc) mode = argv[++i];
    else if (a == "--bin" && i + 1 < argc) bin = argv[++i];
    else if (a == "--messages" && i + 1 < argc) messages = std::atoi(argv[++i]);
    else if (a == "--service" && i + 1 < argc) {
      std::string v = argv[++i];
      service = v == "imap"           ? Service::imap
                : v == "imap-deflate" ? Service::imap_deflate
                : v == "pop3"         ? Service::pop3
                                      : Service::test;
    } else {
      std::cerr << "usage: idle_connections [--connections N] [--mode plain|tls|both] "
                   "[--service test|imap|imap-deflate|pop3] [--messages M] [--bin DIR]\n";
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);  // the daemon inherits it
  if (static_cast<rlim_t>(n) + 200 > limit.rlim_cur) {
    std::cerr << "RLIMIT_NOFILE " << limit.rlim_cur << " is too low for " << n << " connections\n";
    return 1;
  }

  fs::path dir = fs::temp_directory_path() / ("roost-bench-idle-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string init = (bin / "roostctl").string() + " init " + dir.string() + " >/dev/null";
  if (std::system(init.c_str()) != 0) {
    std::cerr << "roostctl init failed\n";
    return 1;
  }
  if (service != Service::test) {
    // The config the daemon will use is written later; user add needs one now.
    std::ofstream conf(dir / "roost.conf", std::ios::trunc);
    conf << "data_dir = data\nrun_dir = run\n" << (::geteuid() == 0 ? "[server]\nrun_as_root = true\n" : "")
         << "[tls]\ncertificate = tls/cert.pem\nkey = tls/key.pem\n";
    conf.close();
    std::string add = "echo bench-pass | " + (bin / "roostctl").string() + " --config " + (dir / "roost.conf").string() +
                      " user add alice --password-stdin >/dev/null";
    if (std::system(add.c_str()) != 0) {
      std::cerr << "roostctl user add failed\n";
      return 1;
    }
    const fs::path inbox = dir / "data" / "mail" / "alice";
    for (const char* sub : {"new", "cur", "tmp"}) fs::create_directories(inbox / sub);
    for (int i = 0; i < messages; ++i) {
      const std::string text = "From: bench@example.org\r\nTo: alice@example.org\r\nSubject: message " +
                               std::to_string(i) + "\r\nMessage-ID: <" + std::to_string(i) +
                               "@bench.example.org>\r\n\r\nBody of message " + std::to_string(i) + ".\r\n";
      std::ofstream(inbox / "new" / (std::to_string(1700000000 + i) + ".M" + std::to_string(i) + "P1.bench,S=" +
                                     std::to_string(text.size())),
                    std::ios::binary)
          << text;
    }
  }

  // "second half": what the second half of the connections added, each;
  // free of what the warm-up left for the first ones to reuse.
  std::printf("%-6s %12s %12s %12s %14s %12s\n", "mode", "connections", "rss before", "rss after",
              "per connection", "second half");
  for (std::string m : {"plain", "tls"}) {
    if (mode != "both" && mode != m) continue;
    auto r = measure(bin, dir, m == "tls", n, service);
    double per = r.opened > 0 ? double(r.after_kib - r.before_kib) / r.opened : 0;
    double marginal = r.opened > r.half && r.half > 0 ? double(r.after_kib - r.half_kib) / (r.opened - r.half) : 0;
    std::printf("%-6s %12d %9ld KiB %9ld KiB %10.2f KiB %8.2f KiB\n", m.c_str(), r.opened, r.before_kib,
                r.after_kib, per, marginal);
    if (r.opened < n) std::printf("  (only %d of %d connections opened)\n", r.opened, n);
  }
  fs::remove_all(dir);
  return 0;
}

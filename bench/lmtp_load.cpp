// LMTP load: N concurrent connections, each delivering M messages from the
// seeded corpus generator (attachments capped at 64 KiB) to its own user
// (user1..userN), or all to one user, one transaction per message. Reports
// messages per second of wall time. Used by bench/side_by_side and
// bench/pop3_side_by_side against Roost and Dovecot alike.
//
//   lmtp_load HOST PORT CONNECTIONS MESSAGES_PER_CONNECTION [USER_PREFIX | =USER]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "corpus_generator.hpp"

namespace {

class Client {
 public:
  Client(const char* host, int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host, &address.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      std::perror("connect");
      std::exit(1);
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { ::close(fd_); }

  void send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n <= 0) {
        std::perror("write");
        std::exit(1);
      }
      done += static_cast<std::size_t>(n);
    }
  }

  std::string line() {
    for (;;) {
      std::size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string out = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return out;
      }
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) {
        std::fprintf(stderr, "connection closed\n");
        std::exit(1);
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // A reply, multi-line ones included; returns the last line.
  std::string reply() {
    for (;;) {
      std::string l = line();
      if (l.size() < 4 || l[3] != '-') return l;
    }
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

std::string dot_stuffed(const std::string& message) {
  std::string out;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t end = message.find("\r\n", pos);
    std::string_view line = end == std::string::npos ? std::string_view(message).substr(pos)
                                                     : std::string_view(message).substr(pos, end - pos);
    if (line.starts_with('.')) out += '.';
    out += line;
    out += "\r\n";
    pos = end == std::string::npos ? message.size() : end + 2;
  }
  return out + ".\r\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: lmtp_load HOST PORT CONNECTIONS MESSAGES_PER_CONNECTION [USER_PREFIX | =USER]\n");
    return 2;
  }
  const char* host = argv[1];
  int port = std::atoi(argv[2]);
  int connections = std::atoi(argv[3]);
  int each = std::atoi(argv[4]);
  std::string prefix = argc > 5 ? argv[5] : "user";
  roost::corpus::Generator generator(11, 64 * 1024);
  std::vector<std::string> messages;
  for (int i = 0; i < 300; ++i) messages.push_back(dot_stuffed(generator.next().text));

  std::atomic<int> failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      Client client(host, port);
      client.reply();
      client.send("LHLO load.test\r\n");
      client.reply();
      std::string rcpt = prefix.starts_with('=') ? prefix.substr(1) : prefix + std::to_string(c + 1);
      for (int i = 0; i < each; ++i) {
        client.send("MAIL FROM:<load@example.net>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n");
        std::string mail = client.reply(), to = client.reply(), data = client.reply();
        if (!mail.starts_with("250") || !to.starts_with("250") || !data.starts_with("354")) {
          std::fprintf(stderr, "refused: %s / %s / %s\n", mail.c_str(), to.c_str(), data.c_str());
          std::exit(1);
        }
        client.send(messages[static_cast<std::size_t>(c * 31 + i) % messages.size()]);
        if (!client.reply().starts_with("250")) ++failures;
      }
      client.send("QUIT\r\n");
      client.reply();
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d connections, %d messages, %.2f s, %.0f messages/s, %d failed\n", connections, connections * each,
              seconds, connections * each / seconds, failures.load());
  return failures > 0 ? 1 : 0;
}

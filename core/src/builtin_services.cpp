#include <boost/asio/use_awaitable.hpp>

#include <ctime>

#include "roost/core/builtin_services.hpp"

namespace roost {
namespace {

std::string iso_time(std::chrono::system_clock::time_point t) {
  auto seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

class AdminService final : public Service {
 public:
  explicit AdminService(Server& server) : server_(server) {}
  std::string_view name() const override { return "admin"; }
  std::string refusal(Refusal) const override { return "ERR unavailable\n"; }

  asio::awaitable<void> serve(Session& session) override {
    auto& conn = *session.connection;
    std::string line;
    for (;;) {
      auto status = co_await conn.read_line(line, 1024, std::chrono::seconds(30));
      if (status == ReadStatus::too_long) {
        conn.send("ERR line too long\n");
      } else if (status != ReadStatus::ok) {
        co_return;
      } else if (line == "WHO") {
        auto sessions = server_.sessions().list();
        std::size_t shown = 0;
        for (const auto& s : sessions) {
          if (s.service == "admin" || s.service == "metrics") continue;
          conn.send(std::to_string(s.id) + "\t" + s.service + "\t" +
                    (s.user.empty() ? "-" : s.user) + "\t" + s.remote + "\t" + iso_time(s.since) +
                    "\t" + s.state + "\n");
          ++shown;
        }
        conn.send("OK " + std::to_string(shown) + "\n");
      } else if (line.starts_with("KICK ")) {
        auto user = line.substr(5);
        auto n = server_.sessions().kick(user);
        log::info(session.log_context(), "admin_kick", {{"target", user}, {"sessions", n}});
        conn.send("OK " + std::to_string(n) + "\n");
      } else if (line == "PING") {
        conn.send("OK pong\n");
      } else {
        conn.send("ERR unknown command\n");
      }
      if (!co_await conn.flush(std::chrono::seconds(30))) co_return;
    }
  }

 private:
  Server& server_;
};

class MetricsService final : public Service {
 public:
  explicit MetricsService(Server& server) : server_(server) {}
  std::string_view name() const override { return "metrics"; }
  std::string refusal(Refusal) const override {
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  }

  asio::awaitable<void> serve(Session& session) override {
    auto& conn = *session.connection;
    std::string request_line;
    auto status = co_await conn.read_line(request_line, 2048, std::chrono::seconds(10));
    if (status != ReadStatus::ok) co_return;
    std::string header;
    for (int i = 0; i < 100; ++i) {
      status = co_await conn.read_line(header, 8192, std::chrono::seconds(10));
      if (status != ReadStatus::ok) co_return;
      if (header.empty()) break;
    }
    auto reply = [&](std::string_view code, std::string_view type, const std::string& body) {
      conn.send("HTTP/1.1 " + std::string(code) + "\r\nContent-Type: " + std::string(type) +
                "\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\nConnection: close\r\n\r\n" + body);
    };
    if (request_line.starts_with("GET /metrics ") || request_line == "GET /metrics") {
      reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", server_.metrics().render());
    } else if (request_line.starts_with("GET ")) {
      reply("404 Not Found", "text/plain", "try /metrics\n");
    } else {
      reply("405 Method Not Allowed", "text/plain", "only GET\n");
    }
    co_return;
  }

 private:
  Server& server_;
};

}  // namespace

ServiceFactory admin_service_factory() {
  return {"admin", [](Server& s) { return std::make_unique<AdminService>(s); }, true};
}

ServiceFactory metrics_service_factory() {
  return {"metrics", [](Server& s) { return std::make_unique<MetricsService>(s); }, true};
}

}  // namespace roost

#include "roost/proxy/socketmap_service.hpp"

#include <charconv>

#include "roost/core/auth.hpp"
#include "roost/core/blocking.hpp"
#include "roost/core/connection.hpp"
#include "roost/core/log.hpp"
#include "roost/directory/directory.hpp"
#include "roost/proxy/socketmap.hpp"

namespace roost::proxy {

namespace {

// The reply for `transport`: the recipient's shard's LMTP endpoint, the
// recipient found as LMTP finds it (directory::find_recipient).
std::string transport_reply(const directory::Directory& dir, const Config& config, std::string_view key) {
  auto match = directory::find_recipient(dir, key, config.lmtp.default_domain, config.lmtp.subaddress_separator);
  if (!match) return "TEMP directory unavailable";
  if (!*match) return "NOTFOUND ";
  const auto& route = (*match)->user.route;
  if (route.state == directory::UserState::moving) return "TEMP the mailbox is being moved";
  if (route.shard.empty()) return "NOTFOUND ";  // local: the MTA's default transport
  auto shards = dir.shards();
  if (!shards) return "TEMP directory unavailable";
  for (const auto& shard : *shards) {
    if (shard.id != route.shard) continue;
    if (shard.state == directory::ShardState::down) return "TEMP the mailbox's server is down";
    std::string hop = lmtp_nexthop(shard.lmtp);
    if (hop.empty()) return "TEMP the mailbox's server has no LMTP endpoint";
    return "OK " + hop;
  }
  return "TEMP the mailbox's server is not in the directory";
}

class SocketmapService final : public Service {
 public:
  explicit SocketmapService(Server& server) : server_(server) {}
  std::string_view name() const override { return "socketmap"; }
  std::string refusal(Refusal) const override { return netstring("TEMP too many connections"); }

  asio::awaitable<void> serve(Session& session) override {
    auto& conn = *session.connection;
    const auto* dir = dynamic_cast<const directory::Directory*>(&server_.auth().credentials());
    std::string input;
    // Postfix keeps its connection open between look-ups (up to 5 minutes
    // idle); once a request has begun, all of it must come within 10
    // seconds, however it is spread (one deadline, not one per byte).
    std::chrono::steady_clock::time_point request_deadline;
    for (;;) {
      ParsedRequest parsed = parse_socketmap(input);
      if (!parsed.request && parsed.consumed > 0) {
        log::warning(session.log_context(), "socketmap_bad_request", {});
        co_return;
      }
      if (!parsed.request) {
        std::chrono::steady_clock::duration wait = std::chrono::minutes(5);
        if (!input.empty()) {
          wait = request_deadline - std::chrono::steady_clock::now();
          if (wait <= std::chrono::steady_clock::duration::zero()) co_return;
        }
        // The length prefix first, then the rest of the netstring at once.
        std::size_t want = 1;
        if (auto colon = input.find(':'); colon != std::string::npos) {
          std::size_t length = 0;
          std::from_chars(input.data(), input.data() + colon, length);
          want = colon + 1 + length + 1 - input.size();
        }
        std::string more;
        auto status = co_await conn.read_exact(
            more, want, std::chrono::duration_cast<std::chrono::milliseconds>(wait));
        if (status != ReadStatus::ok) co_return;
        if (input.empty()) request_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        input += more;
        continue;
      }
      input.erase(0, parsed.consumed);
      const SocketmapRequest& request = *parsed.request;
      std::string reply;
      if (request.name != "transport") {
        reply = "PERM unknown map " + request.name.substr(0, 64);
      } else if (dir == nullptr) {
        reply = "TEMP no directory";
      } else {
        auto look_up = [&] { return transport_reply(*dir, *session.config, request.key); };
        reply = co_await on_blocking_pool(session, look_up);
      }
      conn.send(netstring(reply));
      if (!co_await conn.flush(std::chrono::seconds(30))) co_return;
    }
  }

 private:
  Server& server_;
};

}  // namespace

ServiceFactory socketmap_service_factory() {
  return {"socketmap", [](Server& server) { return std::make_unique<SocketmapService>(server); }};
}

}  // namespace roost::proxy

// Postfix's socketmap protocol (socketmap_table(5)): a request is the
// netstring "NAME KEY", a reply the netstring "OK DATA", "NOTFOUND ",
// "TEMP REASON", "TIMEOUT REASON" or "PERM REASON". Roost answers the map
// `transport` from the directory: a recipient's shard as an LMTP next hop,
// so that an MTA can deliver straight to the shard (../shared/PROXY.md §5).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace roost::proxy {

inline constexpr std::size_t kMaxSocketmapRequest = 4096;

struct SocketmapRequest {
  std::string name;  // the map
  std::string key;
};

// One netstring from the front of `input`: the request and how many bytes it
// took; nullopt with `consumed` 0 when more input is needed; nullopt with
// `consumed` > 0 when the input is not a request (the connection ends).
struct ParsedRequest {
  std::optional<SocketmapRequest> request;
  std::size_t consumed = 0;
};
ParsedRequest parse_socketmap(std::string_view input);

std::string netstring(std::string_view payload);

// The LMTP next hop Postfix's transport(5) wants for an endpoint "host:port"
// ("[::1]:24" for IPv6): "lmtp:inet:[host]:port"; empty for a bad endpoint.
std::string lmtp_nexthop(std::string_view endpoint);

}  // namespace roost::proxy

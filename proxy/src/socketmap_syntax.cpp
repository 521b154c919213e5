#include "roost/proxy/socketmap.hpp"

#include <algorithm>
#include <charconv>

namespace roost::proxy {

ParsedRequest parse_socketmap(std::string_view input) {
  const std::size_t colon = input.find(':');
  if (colon == std::string_view::npos) {
    // Digits so far, and not too many of them: wait for more.
    const bool digits = input.find_first_not_of("0123456789") == std::string_view::npos;
    return {std::nullopt, digits && input.size() <= 5 ? 0 : std::max<std::size_t>(input.size(), 1)};
  }
  std::size_t length = 0;
  auto [end, ec] = std::from_chars(input.data(), input.data() + colon, length);
  if (colon == 0 || ec != std::errc() || end != input.data() + colon || length > kMaxSocketmapRequest)
    return {std::nullopt, colon + 1};
  if (input.size() < colon + 1 + length + 1) return {};
  if (input[colon + 1 + length] != ',') return {std::nullopt, colon + 1 + length + 1};
  std::string_view payload = input.substr(colon + 1, length);
  const std::size_t consumed = colon + 1 + length + 1;
  const std::size_t space = payload.find(' ');
  if (space == 0 || space == std::string_view::npos || space + 1 == payload.size()) return {std::nullopt, consumed};
  return {SocketmapRequest{std::string(payload.substr(0, space)), std::string(payload.substr(space + 1))}, consumed};
}

std::string netstring(std::string_view payload) {
  return std::to_string(payload.size()) + ":" + std::string(payload) + ",";
}

std::string lmtp_nexthop(std::string_view endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == endpoint.size()) return {};
  std::string_view host = endpoint.substr(0, colon), port = endpoint.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (port.find_first_not_of("0123456789") != std::string_view::npos) return {};
  return "lmtp:inet:[" + std::string(host) + "]:" + std::string(port);
}

}  // namespace roost::proxy

#include "roost/core/net_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace roost {

std::expected<IpAddress, std::string> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress out;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    return from_v4(ntohl(v4.s_addr));
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.bytes.data(), v6.s6_addr, 16);
    return out;
  }
  return std::unexpected("not an IP address: '" + s + "'");
}

IpAddress IpAddress::from_v4(std::uint32_t host_order) {
  IpAddress out;
  out.bytes[10] = 0xff;
  out.bytes[11] = 0xff;
  out.bytes[12] = static_cast<std::uint8_t>(host_order >> 24);
  out.bytes[13] = static_cast<std::uint8_t>(host_order >> 16);
  out.bytes[14] = static_cast<std::uint8_t>(host_order >> 8);
  out.bytes[15] = static_cast<std::uint8_t>(host_order);
  return out;
}

bool IpAddress::is_v4() const {
  static constexpr std::array<std::uint8_t, 12> prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes[12] == 127;
  static constexpr std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                            0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == v6_loopback;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::expected<Cidr, std::string> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::unexpected(address.error());
  Cidr out{*address, 128};
  unsigned max_prefix = address->is_v4() ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    unsigned prefix = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty() ||
        prefix > max_prefix) {
      return std::unexpected("bad prefix length in '" + std::string(text) + "'");
    }
    out.prefix = address->is_v4() ? prefix + 96 : prefix;
  }
  return out;
}

bool Cidr::contains(const IpAddress& address) const {
  unsigned full = prefix / 8;
  if (std::memcmp(network.bytes.data(), address.bytes.data(), full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (network.bytes[full] & mask) == (address.bytes[full] & mask);
}

std::expected<ListenAddress, std::string> ListenAddress::parse(std::string_view text) {
  ListenAddress out;
  if (text.starts_with("unix:")) {
    out.kind = Kind::unix_socket;
    out.path = std::string(text.substr(5));
    if (out.path.empty()) return std::unexpected("empty UNIX socket path");
    if (out.path.size() >= 108) return std::unexpected("UNIX socket path longer than 107 bytes");
    return out;
  }
  std::string_view host, port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::unexpected("expected [IPv6]:PORT, got '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return std::unexpected("expected HOST:PORT or unix:PATH, got '" + std::string(text) + "'");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return std::unexpected("write IPv6 addresses in brackets: [" + std::string(host) + "]:PORT");
    }
  }
  if (host != "*") {
    auto ip = IpAddress::parse(host);
    if (!ip) return std::unexpected(ip.error());
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || port.empty() || value > 65535) {
    return std::unexpected("bad port in '" + std::string(text) + "'");
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::string ListenAddress::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace roost

// Addresses as the configuration and the PROXY protocol name them, without
// pulling Asio into every file that reads the configuration.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace roost {

// An IPv4 or IPv6 address; IPv4 is kept as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) so that one comparison serves both families.
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};

  static std::expected<IpAddress, std::string> parse(std::string_view text);
  static IpAddress from_v4(std::uint32_t host_order);
  bool is_v4() const;
  bool is_loopback() const;
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// A network in CIDR notation: 192.0.2.0/24, 2001:db8::/32, or a bare address.
struct Cidr {
  IpAddress network;
  unsigned prefix = 128;  // in bits of the 128-bit (mapped) form

  static std::expected<Cidr, std::string> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
};

// Where a listener binds: "127.0.0.1:143", "[::1]:143", "*:143" (all IPv4 and
// IPv6 addresses) or "unix:/path/to/socket".
struct ListenAddress {
  enum class Kind { tcp, unix_socket } kind = Kind::tcp;
  std::string host;  // literal address, or "*" for any
  std::uint16_t port = 0;
  std::string path;  // for UNIX sockets

  static std::expected<ListenAddress, std::string> parse(std::string_view text);
  std::string to_string() const;
};

}  // namespace roost

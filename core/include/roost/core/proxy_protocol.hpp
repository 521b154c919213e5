// HAProxy PROXY protocol, versions 1 and 2 (../shared/rfc/proxy-protocol.txt).
// A pure parser: given the bytes received so far, it answers "need more",
// "invalid" or the parsed header with its exact length, so the caller can
// consume precisely the header and leave what follows (a TLS ClientHello,
// a protocol command) untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "roost/core/net_address.hpp"

namespace roost::proxy_protocol {

// Headers longer than this are refused (v2 TLVs included); v1 lines are at
// most 107 bytes by the specification.
inline constexpr std::size_t max_header = 4096;

struct Header {
  std::size_t length = 0;  // bytes the header occupies on the wire
  // The original client, absent for v2 LOCAL, v1 UNKNOWN and non-IP families:
  // then the connection's own peer address stands.
  std::optional<IpAddress> source;
  std::uint16_t source_port = 0;
};

enum class Status { need_more, invalid, complete };

struct Result {
  Status status = Status::need_more;
  Header header;
  std::string error;  // why it is invalid
};

Result parse(std::span<const std::uint8_t> data);

}  // namespace roost::proxy_protocol

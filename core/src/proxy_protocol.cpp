#include "roost/core/proxy_protocol.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

namespace roost::proxy_protocol {
namespace {

constexpr std::uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                           0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t v1_max_line = 107;

Result invalid(std::string why) {
  Result r;
  r.status = Status::invalid;
  r.error = std::move(why);
  return r;
}

// Decimal without leading zeros, as §2.1 requires for ports.
std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

bool canonical_v4(std::string_view s) {
  int parts = 0;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    auto dot = s.find('.', pos);
    auto part = s.substr(pos, dot == std::string_view::npos ? s.size() - pos : dot - pos);
    if (part.empty() || part.size() > 3 || (part.size() > 1 && part[0] == '0')) return false;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts == 4;
}

Result parse_v1(std::span<const std::uint8_t> data) {
  std::string_view text(reinterpret_cast<const char*>(data.data()),
                        std::min(data.size(), v1_max_line));
  auto crlf = text.find("\r\n");
  if (crlf == std::string_view::npos) {
    if (data.size() >= v1_max_line) return invalid("PROXY v1 line without CRLF in 107 bytes");
    if (text.find('\n') != std::string_view::npos) return invalid("PROXY v1 line ends in bare LF");
    return {};
  }
  std::string_view line = text.substr(v1_prefix.size(), crlf - v1_prefix.size());
  Result r;
  r.status = Status::complete;
  r.header.length = crlf + 2;

  auto next_word = [&line]() {
    auto sp = line.find(' ');
    auto word = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    return word;
  };
  auto family = next_word();
  if (family == "UNKNOWN") return r;  // the rest of the line is ignored (§2.1)
  if (family != "TCP4" && family != "TCP6") {
    return invalid("PROXY v1 family must be TCP4, TCP6 or UNKNOWN");
  }
  auto src = next_word();
  auto dst = next_word();
  auto sport = next_word();
  auto dport = line;
  if (dport.find(' ') != std::string_view::npos || dport.empty()) {
    return invalid("PROXY v1 line has the wrong number of fields");
  }
  auto src_ip = IpAddress::parse(src);
  auto dst_ip = IpAddress::parse(dst);
  if (!src_ip || !dst_ip) return invalid("PROXY v1 address is not valid");
  bool v4 = family == "TCP4";
  if (src_ip->is_v4() != v4 || dst_ip->is_v4() != v4 ||
      (v4 && (!canonical_v4(src) || !canonical_v4(dst))) ||
      (!v4 && (src.find('.') != std::string_view::npos || dst.find('.') != std::string_view::npos))) {
    return invalid("PROXY v1 address does not match its family");
  }
  auto sp = parse_port(sport);
  auto dp = parse_port(dport);
  if (!sp || !dp) return invalid("PROXY v1 port is not valid");
  r.header.source = *src_ip;
  r.header.source_port = *sp;
  return r;
}

Result parse_v2(std::span<const std::uint8_t> data) {
  if (data.size() < 16) return {};
  std::uint8_t ver_cmd = data[12];
  if ((ver_cmd >> 4) != 2) return invalid("PROXY v2 version must be 2");
  std::uint8_t command = ver_cmd & 0x0f;
  if (command > 1) return invalid("PROXY v2 command must be LOCAL or PROXY");
  std::uint8_t family = data[13] >> 4;
  std::uint8_t transport = data[13] & 0x0f;
  if (family > 3 || transport > 2) return invalid("PROXY v2 family or protocol is not valid");
  std::size_t length = (std::size_t{data[14]} << 8) | data[15];
  if (16 + length > max_header) return invalid("PROXY v2 header is too long");
  if (data.size() < 16 + length) return {};

  Result r;
  r.status = Status::complete;
  r.header.length = 16 + length;
  if (command == 0 || transport == 0) return r;  // LOCAL or UNSPEC: keep the real peer

  auto address = data.subspan(16, length);
  if (family == 1) {
    if (length < 12) return invalid("PROXY v2 IPv4 address block is too short");
    std::uint32_t v4 = (std::uint32_t{address[0]} << 24) | (std::uint32_t{address[1]} << 16) |
                       (std::uint32_t{address[2]} << 8) | address[3];
    r.header.source = IpAddress::from_v4(v4);
    r.header.source_port = static_cast<std::uint16_t>((address[8] << 8) | address[9]);
  } else if (family == 2) {
    if (length < 36) return invalid("PROXY v2 IPv6 address block is too short");
    IpAddress ip;
    std::memcpy(ip.bytes.data(), address.data(), 16);
    r.header.source = ip;
    r.header.source_port = static_cast<std::uint16_t>((address[32] << 8) | address[33]);
  }
  return r;
}

}  // namespace

Result parse(std::span<const std::uint8_t> data) {
  if (data.empty()) return {};
  std::size_t sig_have = std::min(data.size(), sizeof v2_signature);
  if (std::memcmp(data.data(), v2_signature, sig_have) == 0) {
    return sig_have < sizeof v2_signature ? Result{} : parse_v2(data);
  }
  std::size_t v1_have = std::min(data.size(), v1_prefix.size());
  if (std::memcmp(data.data(), v1_prefix.data(), v1_have) == 0) {
    return v1_have < v1_prefix.size() ? Result{} : parse_v1(data);
  }
  return invalid("no PROXY protocol header");
}

}  // namespace roost::proxy_protocol

// Base64 (RFC 4648 §4) for SASL exchanges and stored secrets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace roost {

std::string base64_encode(std::string_view bytes);

// Strict: the standard alphabet, length a multiple of 4, '=' only as final
// padding, no whitespace. Anything else is nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace roost

// libFuzzer target: the header, parameter, charset and transfer decoders,
// and the sort keys built on them.
// Whatever comes out of a decoder that promises UTF-8 must be valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roost/mime/charset.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/sort_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!roost::mime::is_valid_utf8(roost::mime::decode_header_text(text))) __builtin_trap();
  auto split = text.find('\n');
  std::string_view charset = text.substr(0, std::min<std::size_t>(split, 32));
  std::string_view rest = split == std::string_view::npos ? std::string_view() : text.substr(split + 1);
  if (!roost::mime::is_valid_utf8(roost::mime::to_utf8(rest, charset))) __builtin_trap();
  for (const auto& p : roost::mime::decode_params({{"name*0*", std::string(charset)},
                                                   {"name*1*", std::string(rest)},
                                                   {"other", std::string(rest)}})) {
    if (!roost::mime::is_valid_utf8(p.value)) __builtin_trap();
  }
  // A joined extended value is RFC 2231 text: ASCII only.
  for (const auto& p : roost::mime::join_param_continuations({{"n*0*", std::string(charset)},
                                                              {"n*1", std::string(rest)},
                                                              {"n*2*", std::string(rest)}})) {
    for (unsigned char c : p.value)
      if (c >= 0x80) __builtin_trap();
  }
  if (!roost::mime::is_valid_utf8(roost::mime::base_subject(text).text)) __builtin_trap();
  auto mapped = roost::mime::casemap(text);
  if (roost::mime::is_valid_utf8(text) && !roost::mime::is_valid_utf8(mapped)) __builtin_trap();
  roost::mime::parse_date(text);
  roost::mime::first_display(text);
  roost::mime::message_ids(text);
  roost::mime::decode_quoted_printable(text);
  roost::mime::decode_base64_lenient(text);
  return 0;
}

// libFuzzer target: the MIME structure parser and the IMAP renderings on
// arbitrary bytes. Checks the invariants the server relies on: every span
// lies inside the message and inside its parent, wire sizes are at least the
// raw sizes, and every leaf's section number leads back to that leaf.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "roost/mime/charset.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/message.hpp"

namespace {

void check(const roost::mime::Part& part, std::uint64_t begin, std::uint64_t end) {
  const auto& h = part.header;
  const auto& b = part.body;
  if (h.begin < begin || h.end > b.begin || b.end > end || h.begin > h.end || b.begin > b.end) {
    __builtin_trap();
  }
  if (h.wire_size < h.size() || b.wire_size < b.size()) __builtin_trap();
  for (const auto& child : part.children) check(child, b.begin, b.end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto message = roost::mime::parse(text, roost::mime::Limits{.max_depth = 12, .max_parts = 300});
  check(message.root, 0, size);
  for (const auto& leaf : roost::mime::leaves(message)) {
    std::vector<unsigned> path;
    std::size_t i = 0;
    while (i < leaf.section.size()) {
      std::size_t dot = leaf.section.find('.', i);
      if (dot == std::string::npos) dot = leaf.section.size();
      path.push_back(static_cast<unsigned>(std::stoul(leaf.section.substr(i, dot - i))));
      i = dot + 1;
    }
    if (roost::mime::find_part(message, path) != leaf.part) __builtin_trap();
  }
  auto searchable = roost::mime::search_text(message);
  if (!roost::mime::is_valid_utf8(searchable.body)) __builtin_trap();
  auto shown = roost::mime::preview(message);
  if (!roost::mime::is_valid_utf8(shown) || shown.size() > 256 * 4) __builtin_trap();
  roost::mime::decoded_size(message, message.root);
  roost::mime::envelope(message);
  roost::mime::body_structure(message, true, roost::mime::Grammar::imap4rev2);
  roost::mime::body_structure(message, false, roost::mime::Grammar::imap4rev1);
  return 0;
}

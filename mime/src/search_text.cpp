#include "roost/mime/search_text.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "roost/mime/charset.hpp"
#include "roost/mime/address.hpp"
#include "roost/mime/decode.hpp"
#include "text.hpp"

namespace roost::mime {
namespace {

// Decodes "&name;", "&#123;" or "&#x7b;" at s[i]; returns the length used.
std::size_t character_reference(std::string_view s, std::size_t i, std::string& out) {
  std::size_t semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 10) return 0;
  std::string_view name = s.substr(i + 1, semi - i - 1);
  if (name.size() > 1 && name[0] == '#') {
    std::uint32_t cp = 0;
    bool hex = name[1] == 'x' || name[1] == 'X';
    for (char c : name.substr(hex ? 2 : 1)) {
      int d = (c >= '0' && c <= '9') ? c - '0'
              : hex && (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : hex && (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      if (cp > 0x10ffff) return 0;
    }
    append_utf8(out, cp);
    return semi - i + 1;
  }
  static constexpr std::pair<std::string_view, std::string_view> named[] = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
      {"nbsp", " "}, {"copy", "\xc2\xa9"}, {"reg", "\xc2\xae"}, {"euro", "\xe2\x82\xac"},
      {"hellip", "\xe2\x80\xa6"}, {"mdash", "\xe2\x80\x94"}, {"ndash", "\xe2\x80\x93"}};
  for (auto [n, text] : named) {
    if (ascii_iequals(name, n)) {
      out += text;
      return semi - i + 1;
    }
  }
  return 0;
}

void add_part_text(const Message& m, const Part& part, SearchText& out) {
  if (part.is_multipart()) {
    for (const auto& child : part.children) add_part_text(m, child, out);
    return;
  }
  if (part.is_message()) {
    if (part.children.empty()) return;
    const Part& nested = part.children.front();
    Header header;
    parse_header(m.data, nested.header.begin, nested.header.end, header, 5000);
    // A nested message's header is part of the outer message's body.
    if (!out.body.empty()) out.body += '\n';
    for (const auto& f : header.fields) {
      out.body += std::string(f.name) + ": " + decode_header_text(f.raw_value) + "\n";
    }
    add_part_text(m, nested, out);
    return;
  }
  // message/delivery-status, message/disposition-notification,
  // message/partial and the like are text for a reader, too.
  if (!part.content_type.is("text") && !part.content_type.is("message")) return;
  std::string_view raw = m.data.substr(part.body.begin, part.body.size());
  std::string bytes = decode_transfer(raw, part.encoding);
  const Param* charset = part.content_type.param("charset");
  std::string text = to_utf8(bytes, charset != nullptr ? charset->value : "");
  if (part.content_type.is("text", "html")) text = html_to_text(text);
  if (!out.body.empty()) out.body += '\n';
  out.body += text;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      if (html.compare(i, 4, "<!--") == 0) {
        std::size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      std::size_t end = html.find('>', i + 1);
      if (end == std::string_view::npos) break;
      std::string_view tag = html.substr(i + 1, end - i - 1);
      std::size_t name_end = tag.find_first_of(" \t\r\n/>", tag.starts_with('/') ? 1 : 0);
      std::string_view name = tag.substr(0, name_end);
      i = end + 1;
      for (std::string_view skipped : {"script", "style"}) {
        if (ascii_iequals(name, skipped)) {
          std::string close = "</" + std::string(skipped);
          // Case-insensitive search for the closing tag.
          std::size_t k = i;
          while (k < html.size() && !(html[k] == '<' && k + close.size() <= html.size() &&
                                      ascii_iequals(html.substr(k, close.size()), close))) {
            ++k;
          }
          std::size_t gt = html.find('>', k);
          i = gt == std::string_view::npos ? html.size() : gt + 1;
        }
      }
      static constexpr std::string_view blocks[] = {"br", "p", "/p", "div", "/div", "tr", "/tr",
                                                    "li", "h1", "h2", "h3", "/h1", "/h2", "/h3",
                                                    "td", "table", "/table"};
      for (auto b : blocks) {
        if (ascii_iequals(name, b)) {
          out += (b == "td") ? ' ' : '\n';
          break;
        }
      }
      continue;
    }
    if (c == '&') {
      if (std::size_t used = character_reference(html, i, out)) {
        i += used;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

namespace {

// The part a reader sees first: the first text part, taking text/plain over
// text/html inside multipart/alternative.
const Part* first_text_part(const Part& part) {
  if (part.is_multipart()) {
    if (part.content_type.is("multipart", "alternative")) {
      const Part* html = nullptr;
      for (const auto& child : part.children) {
        if (child.content_type.is("text", "plain")) return &child;
        if (html == nullptr) html = first_text_part(child);
      }
      return html;
    }
    for (const auto& child : part.children) {
      if (const Part* found = first_text_part(child)) return found;
    }
    return nullptr;
  }
  if (part.content_type.is("text") &&
      (part.disposition.type.empty() || ascii_iequals(part.disposition.type, "inline"))) {
    return &part;
  }
  return nullptr;
}

}  // namespace

std::string preview(const Message& message) {
  const Part* part = first_text_part(message.root);
  if (part == nullptr) return {};
  std::string_view raw = message.data.substr(part->body.begin, part->body.size());
  // Enough raw bytes for 200 characters even after markup and encoding.
  if (raw.size() > 16384) raw = raw.substr(0, 16384);
  std::string bytes = decode_transfer(raw, part->encoding);
  const Param* charset = part->content_type.param("charset");
  std::string text = to_utf8(bytes, charset != nullptr ? charset->value : "");
  if (part->content_type.is("text", "html")) text = html_to_text(text);
  std::string out;
  std::size_t characters = 0;
  bool space = false;
  for (std::size_t i = 0; i < text.size() && characters < 200;) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {  // other control characters are not text
      ++i;
      continue;
    }
    if (space) {
      out += ' ';
      ++characters;
      space = false;
      if (characters >= 200) break;
    }
    // A sequence cut by the 16 KiB window is dropped rather than broken.
    if (i + len > text.size()) break;
    out.append(text, i, len);
    ++characters;
    i += len;
  }
  return out;
}

std::uint64_t decoded_size(const Message& message, const Part& part) {
  std::string_view raw = message.data.substr(part.body.begin, part.body.size());
  if (ascii_iequals(part.encoding, "base64")) return base64_decoded_size(raw);
  if (ascii_iequals(part.encoding, "quoted-printable")) return decode_transfer(raw, part.encoding).size();
  return part.body.wire_size;
}

std::string header_search_value(std::string_view name, std::string_view raw_value) {
  std::string out = decode_header_text(raw_value);
  static constexpr std::string_view kAddressFields[] = {"from", "to", "cc", "bcc", "reply-to", "sender"};
  if (std::none_of(std::begin(kAddressFields), std::end(kAddressFields),
                   [&](std::string_view f) { return ascii_iequals(name, f); }))
    return out;
  for (const auto& a : parse_address_list(raw_value)) {
    if (a.kind != Address::Kind::mailbox) continue;
    out += '\t';
    if (!a.name.empty()) out += decode_header_text(a.name) + " ";
    out += "<" + a.mailbox + (a.host.empty() ? "" : "@" + a.host) + ">";
  }
  return out;
}

SearchText search_text(const Message& message) {
  SearchText out;
  for (const auto& f : message.header.fields) {
    out.headers += std::string(f.name) + ": " + header_search_value(f.name, f.raw_value) + "\n";
  }
  // Lines of the header that are not fields (mail that omits the empty line
  // before its body) are text a reader sees, so SEARCH TEXT finds them.
  std::string_view block = message.data.substr(message.root.header.begin, message.root.header.size());
  for (std::size_t pos = 0; pos < block.size();) {
    std::size_t eol = block.find('\n', pos);
    if (eol == std::string_view::npos) eol = block.size();
    std::string_view raw_line = block.substr(pos, eol - pos);
    pos = eol + 1;
    std::string_view line = trim(raw_line);
    if (line.empty() || raw_line.front() == ' ' || raw_line.front() == '\t') continue;
    std::size_t colon = line.find(':');
    std::size_t space = line.find_first_of(" \t");
    bool field = colon != std::string_view::npos && (space == std::string_view::npos || colon < space);
    if (!field) out.headers += std::string(line) + "\n";
  }
  add_part_text(message, message.root, out);
  return out;
}

}  // namespace roost::mime

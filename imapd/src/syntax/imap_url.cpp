#include "roost/imapd/imap_url.hpp"

#include <charconv>

#include "parse_internal.hpp"
#include "text.hpp"

namespace roost::imap {
namespace {

// %XX escapes decoded (RFC 3986 §2.1); nullopt for a broken one.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != in.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::optional<std::uint64_t> number_of(std::string_view text) {
  std::uint64_t n = 0;
  if (text.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return n;
}

// The position of "/;NAME=" (any case) at or after `from`.
std::size_t find_key(std::string_view url, std::string_view key, std::size_t from = 0) {
  for (std::size_t at = url.find("/;", from); at != std::string_view::npos; at = url.find("/;", at + 1))
    if (ascii_iequals(url.substr(at + 2, key.size()), key)) return at;
  return std::string_view::npos;
}

}  // namespace

std::optional<ImapUrl> parse_imap_url(std::string_view url) {
  // Relative to "imap://user@server/" (RFC 4469 §3): a path, nothing else.
  if (!url.starts_with('/') || url.starts_with("//")) return std::nullopt;
  ImapUrl out;
  const std::size_t uid_at = find_key(url, "UID=");
  if (uid_at == std::string_view::npos) return std::nullopt;
  std::string_view mailbox = url.substr(1, uid_at - 1);
  if (std::size_t v = mailbox.find(';'); v != std::string_view::npos) {
    if (!ascii_iequals(mailbox.substr(v, 13), ";UIDVALIDITY=")) return std::nullopt;
    auto validity = number_of(mailbox.substr(v + 13));
    if (!validity || *validity == 0 || *validity > 0xffffffffu) return std::nullopt;
    out.uidvalidity = static_cast<std::uint32_t>(*validity);
    mailbox = mailbox.substr(0, v);
  }
  auto decoded = percent_decode(mailbox);
  if (!decoded || decoded->empty()) return std::nullopt;
  out.mailbox = std::move(*decoded);

  std::string_view rest = url.substr(uid_at + 6);
  const std::size_t section_at = find_key(rest, "SECTION=");
  const std::size_t partial_at = find_key(rest, "PARTIAL=");
  const std::size_t uid_end = std::min(section_at, partial_at);
  auto uid = number_of(rest.substr(0, uid_end == std::string_view::npos ? rest.size() : uid_end));
  if (!uid || *uid == 0 || *uid > 0xffffffffu) return std::nullopt;
  out.uid = static_cast<std::uint32_t>(*uid);
  if (section_at != std::string_view::npos) {
    if (partial_at != std::string_view::npos && partial_at < section_at) return std::nullopt;
    const std::size_t end = partial_at == std::string_view::npos ? rest.size() : partial_at;
    auto spec = percent_decode(rest.substr(section_at + 10, end - section_at - 10));
    if (!spec || spec->empty()) return std::nullopt;
    RawCommand raw{"[" + *spec + "]", {}};
    Cursor c(raw);
    if (!parse_section(c, out.section, false) || !c.at_end()) return std::nullopt;
  }
  if (partial_at != std::string_view::npos) {
    // ipartial = "/;PARTIAL=" offset ["." length]
    std::string_view range = rest.substr(partial_at + 10);
    std::size_t dot = range.find('.');
    auto offset = number_of(range.substr(0, dot));
    if (!offset) return std::nullopt;
    Partial p{*offset, 0};
    if (dot != std::string_view::npos) {
      auto length = number_of(range.substr(dot + 1));
      if (!length || *length == 0) return std::nullopt;
      p.length = *length;
    }
    out.partial = p;
  }
  return out;
}

}  // namespace roost::imap

#include "sections.hpp"

#include <algorithm>

#include "roost/core/ascii.hpp"

namespace roost::imap {

using index::PartInfo;
namespace part_kind = index::part_kind;

// Bare LF and bare CR become CRLF: what IMAP sends and RFC822.SIZE counts.
std::string to_crlf(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 32);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// The index just past part `i`'s subtree in the pre-order part table.
std::size_t subtree_end(const std::vector<PartInfo>& parts, std::size_t i) {
  std::size_t next = i + 1;
  for (std::uint32_t c = 0; c < parts[i].children && next < parts.size(); ++c) next = subtree_end(parts, next);
  return next;
}

}  // namespace

// The part that IMAP part number `path` names (RFC 9051 §6.4.5).
std::optional<std::size_t> find_part(const std::vector<PartInfo>& parts, const std::vector<std::uint32_t>& path) {
  if (parts.empty()) return std::nullopt;
  std::size_t node = 0;
  for (std::size_t k = 0; k < path.size(); ++k) {
    if (parts[node].kind & part_kind::multipart) {
      std::size_t child = node + 1;
      for (std::uint32_t n = 1; n < path[k]; ++n) {
        if (child >= parts.size()) return std::nullopt;
        child = subtree_end(parts, child);
      }
      if (path[k] > parts[node].children || child >= parts.size()) return std::nullopt;
      node = child;
    } else if (path[k] != 1) {
      return std::nullopt;
    }
    if (k + 1 < path.size()) {
      // More numbers follow: a multipart's children are numbered by the
      // next one (1.1 is the first part of multipart 1), a nested
      // message's parts are those of its own body (2.1 is the first part of
      // the message in part 2, or that body if it is no multipart).
      if (parts[node].kind & part_kind::message) {
        if (node + 1 >= parts.size()) return std::nullopt;
        node = node + 1;
      } else if (!(parts[node].kind & part_kind::multipart)) {
        return std::nullopt;  // a leaf has no parts below it
      }
    }
  }
  return node;
}

namespace {

// The header fields of `header` (CRLF lines, ending with the empty line)
// whose names are (or, with `exclude`, are not) in `names`.
std::string filter_fields(std::string_view header, const std::vector<std::string>& names, bool exclude) {
  auto listed = [&](std::string_view name) {
    return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return ascii_iequals(n, name); });
  };
  std::string out;
  bool keep = false;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t eol = header.find("\r\n", pos);
    std::size_t end = eol == std::string_view::npos ? header.size() : eol + 2;
    std::string_view line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n") break;
    if (line[0] != ' ' && line[0] != '\t') {
      std::size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      keep = colon != std::string_view::npos && listed(name) != exclude;
    }
    if (keep) out.append(line);
  }
  out += "\r\n";
  return out;
}

}  // namespace

// BODY[section] data, or nullopt when the section does not exist.
std::optional<std::string> section_data(const std::vector<PartInfo>& parts, const Section& section, const std::string& raw) {
  auto range = [&](std::uint64_t b, std::uint64_t e) { return to_crlf(std::string_view(raw).substr(b, e - b)); };
  if (section.part.empty()) {
    switch (section.text) {
      case Section::Text::none: return to_crlf(raw);
      case Section::Text::header: return range(parts[0].header_begin, parts[0].header_end);
      case Section::Text::text: return range(parts[0].body_begin, parts[0].body_end);
      case Section::Text::header_fields:
      case Section::Text::header_fields_not:
        return filter_fields(range(parts[0].header_begin, parts[0].header_end), section.fields,
                             section.text == Section::Text::header_fields_not);
      case Section::Text::mime: return std::nullopt;
    }
  }
  auto found = find_part(parts, section.part);
  if (!found) return std::nullopt;
  const PartInfo& p = parts[*found];
  switch (section.text) {
    case Section::Text::none: return range(p.body_begin, p.body_end);
    case Section::Text::mime: return range(p.header_begin, p.header_end);
    default: break;
  }
  // HEADER, TEXT and HEADER.FIELDS of a part are those of the message it
  // holds (message/rfc822); other parts have none.
  if (!(p.kind & part_kind::message) || *found + 1 >= parts.size()) return std::string();
  const PartInfo& nested = parts[*found + 1];
  switch (section.text) {
    case Section::Text::header: return range(nested.header_begin, nested.header_end);
    case Section::Text::text: return range(nested.body_begin, nested.body_end);
    default:
      return filter_fields(range(nested.header_begin, nested.header_end), section.fields,
                           section.text == Section::Text::header_fields_not);
  }
}

}  // namespace roost::imap

#include "roost/mime/message.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "text.hpp"

namespace roost::mime {

// parse_header(), also telling whether the empty line that ends a header
// was there.
std::uint64_t header_block(std::string_view data, std::uint64_t begin, std::uint64_t end,
                           Header& header, unsigned max_fields, bool& complete);

namespace {

struct Scan {
  std::uint64_t lf = 0;       // line feeds
  std::uint64_t bare_lf = 0;  // line feeds not preceded by CR
  std::uint64_t bare_cr = 0;  // carriage returns not followed by LF
  bool ends_with_lf = false;

  // Bytes on the wire, where every line ends in CRLF (a bare LF or CR is
  // sent as CRLF, as Dovecot does).
  std::uint64_t wire(std::uint64_t raw) const { return raw + bare_lf + bare_cr; }
};

Scan scan(std::string_view data, std::uint64_t begin, std::uint64_t end) {
  Scan s;
  const char* base = data.data();
  const char* p = base + begin;
  const char* stop = base + end;
  while (p < stop) {
    const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(stop - p));
    if (hit == nullptr) break;
    const char* lf = static_cast<const char*>(hit);
    ++s.lf;
    if (lf == base + begin || lf[-1] != '\r') ++s.bare_lf;
    p = lf + 1;
  }
  for (p = base + begin; p < stop;) {
    const void* hit = std::memchr(p, '\r', static_cast<std::size_t>(stop - p));
    if (hit == nullptr) break;
    const char* cr = static_cast<const char*>(hit);
    if (cr + 1 == stop || cr[1] != '\n') ++s.bare_cr;
    p = cr + 1;
  }
  s.ends_with_lf = end > begin && base[end - 1] == '\n';
  return s;
}

std::uint64_t line_end(std::string_view data, std::uint64_t pos, std::uint64_t end) {
  const void* hit = std::memchr(data.data() + pos, '\n', static_cast<std::size_t>(end - pos));
  return hit == nullptr ? end : static_cast<std::uint64_t>(static_cast<const char*>(hit) - data.data());
}

bool is_field_name_char(unsigned char c) { return c > 32 && c < 127 && c != ':'; }

// RFC 2045 §5.1 token characters, tolerating 8-bit bytes.
bool is_token_char(unsigned char c) {
  if (c <= 32 || c == 127) return false;
  return std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

// A cursor over a structured header value, skipping RFC 5322 CFWS.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  void skip_cfws() {
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i;
      } else if (c == '(') {
        i = skip_comment(s, i);
      } else {
        break;
      }
    }
  }
  bool done() {
    skip_cfws();
    return i >= s.size();
  }
  bool eat(char c) {
    skip_cfws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string token() {
    skip_cfws();
    std::size_t start = i;
    while (i < s.size() && is_token_char(static_cast<unsigned char>(s[i]))) ++i;
    return std::string(s.substr(start, i - start));
  }
  // A quoted-string's content with quoted-pairs resolved; unterminated
  // strings run to the end of the value.
  std::string quoted() {
    std::string out;
    ++i;  // the opening quote
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      if (s[i] != '\r' && s[i] != '\n') out.push_back(s[i]);
      ++i;
    }
    if (i < s.size()) ++i;
    return out;
  }
  std::string value() {
    skip_cfws();
    if (i < s.size() && s[i] == '"') return quoted();
    // Lenient: a value runs to the next ';' even with characters a token
    // may not hold (unquoted file names with spaces are common).
    std::size_t start = i;
    while (i < s.size() && s[i] != ';') ++i;
    return std::string(trim(s.substr(start, i - start)));
  }
};

std::vector<Param> parse_params(Cursor& c) {
  std::vector<Param> params;
  while (!c.done()) {
    if (!c.eat(';')) {
      // Junk between parameters: skip to the next ';'.
      while (c.i < c.s.size() && c.s[c.i] != ';') ++c.i;
      continue;
    }
    if (c.done()) break;
    std::string name = c.token();
    if (name.empty() || !c.eat('=')) {
      while (c.i < c.s.size() && c.s[c.i] != ';') ++c.i;
      continue;
    }
    params.push_back(Param{std::move(name), c.value()});
  }
  return params;
}

struct Parser {
  std::string_view data;
  const Limits& limits;
  unsigned parts = 0;

  void fill_fields(Part& part, const Header& header, bool in_digest) {
    for (const auto& f : header.fields) {
      if (ascii_iequals(f.name, "Content-Type")) {
        if (!part.content_type.defaulted) continue;  // the first one counts
        part.content_type = parse_content_type(f.raw_value);
      } else if (ascii_iequals(f.name, "Content-Transfer-Encoding")) {
        if (part.encoding.empty()) part.encoding = Cursor{f.raw_value}.token();
      } else if (ascii_iequals(f.name, "Content-ID")) {
        if (part.id.empty()) part.id = unfold(f.raw_value);
      } else if (ascii_iequals(f.name, "Content-Description")) {
        if (part.description.empty()) part.description = unfold(f.raw_value);
      } else if (ascii_iequals(f.name, "Content-MD5")) {
        if (part.md5.empty()) part.md5 = unfold(f.raw_value);
      } else if (ascii_iequals(f.name, "Content-Disposition")) {
        if (part.disposition.type.empty()) part.disposition = parse_disposition(f.raw_value);
      } else if (ascii_iequals(f.name, "Content-Language")) {
        if (!part.language.empty()) continue;
        Cursor c{f.raw_value};
        while (!c.done()) {
          std::string tag = c.token();
          if (!tag.empty()) part.language.push_back(std::move(tag));
          if (!c.eat(',')) {
            if (tag.empty()) ++c.i;
          }
        }
      } else if (ascii_iequals(f.name, "Content-Location")) {
        if (part.location.empty()) part.location = unfold(f.raw_value);
      }
    }
    if (part.content_type.defaulted && in_digest) {
      // RFC 2046 §5.1.5: in multipart/digest the default is message/rfc822.
      part.content_type.type = "message";
      part.content_type.subtype = "rfc822";
    }
  }

  static void read_as_text(Part& part) {
    // What Dovecot does with a multipart it cannot split: plain text.
    part.content_type = ContentType{};
    part.children.clear();
  }

  // A delimiter line seen while scanning: which enclosing multipart it
  // belongs to (index into `boundaries`), where the line starts and where the
  // next line starts.
  struct Delimiter {
    std::size_t level;
    bool close;
    std::uint64_t line_begin;
    std::uint64_t next_line;
  };

  // Boundaries of the multiparts enclosing the current position, outermost
  // first. Empty entries stand for multiparts already closed.
  std::vector<std::string> boundaries;
  std::uint64_t end = 0;

  // The next line at or after `pos` that starts with "--" and an active
  // boundary. Like Dovecot, the innermost boundary is tried first and a
  // boundary matches as a prefix of the line (RFC 2046 §5.1.1 forbids a
  // boundary to be a prefix of an enclosing one, so this reads well-formed
  // mail exactly and malformed mail the way the most common server does).
  std::optional<Delimiter> next_delimiter(std::uint64_t pos) const {
    if (boundaries.empty()) return std::nullopt;
    while (pos < end) {
      std::uint64_t at;
      if (pos == 0 || data[pos - 1] == '\n') {
        at = pos;
      } else {
        // The next "--" just after a line feed. Looking for the dashes, not
        // the line feeds, skips a base64 body (no '-' in its alphabet) in
        // one memchr instead of one per line.
        std::uint64_t from = pos;
        for (;;) {
          const void* hit = std::memchr(data.data() + from, '-', static_cast<std::size_t>(end - from));
          if (hit == nullptr) return std::nullopt;
          at = static_cast<std::uint64_t>(static_cast<const char*>(hit) - data.data());
          if (data[at - 1] == '\n' && at + 1 < end && data[at + 1] == '-') break;
          from = at + 1;
        }
      }
      pos = at + 1;
      if (end - at < 2 || data[at] != '-' || data[at + 1] != '-') continue;
      for (std::size_t level = boundaries.size(); level-- > 0;) {
        const std::string& b = boundaries[level];
        if (b.empty() || end - at - 2 < b.size()) continue;
        if (data.compare(at + 2, b.size(), b) != 0) continue;
        std::uint64_t after = at + 2 + b.size();
        bool close = after + 2 <= end && data[after] == '-' && data[after + 1] == '-';
        std::uint64_t eol = line_end(data, after, end);
        return Delimiter{level, close, at, std::min(eol + 1, end)};
      }
    }
    return std::nullopt;
  }

  // Where content ends before a delimiter line: its line break belongs to the
  // delimiter (RFC 2046 §5.1.1).
  std::uint64_t content_end(const std::optional<Delimiter>& d, std::uint64_t floor) const {
    if (!d) return end;
    std::uint64_t e = d->line_begin;
    if (e > floor && data[e - 1] == '\n') --e;
    if (e > floor && data[e - 1] == '\r') --e;
    return std::max(e, floor);
  }

  void finish_body(Part& part, std::uint64_t body_begin, std::uint64_t body_end) {
    Scan body = scan(data, body_begin, body_end);
    part.body = Span{body_begin, body_end, body.wire(body_end - body_begin)};
    if (part.content_type.is("text") || part.content_type.is("message")) {
      part.body_lines = body.lf + ((body_end > body_begin && !body.ends_with_lf) ? 1 : 0);
    }
  }

  // Parses the entity (header and body) starting at `begin`. It ends at the
  // next delimiter of an enclosing multipart, which is returned, or at the
  // end of the data.
  std::optional<Delimiter> parse_part(Part& part, std::uint64_t begin, unsigned depth,
                                      bool in_digest, Header* header_out,
                                      bool in_multipart = false) {
    ++parts;
    Header header;
    // A delimiter line ends the header too (malformed mail omits the empty
    // line, or the whole header).
    auto first = next_delimiter(begin);
    std::uint64_t limit = first ? first->line_begin : end;
    bool complete = false;
    std::uint64_t header_end =
        header_block(data, begin, limit, header, limits.max_header_fields, complete);
    // Cut off by a delimiter before its empty line, the entity has no body:
    // nothing inside it starts, even a multipart's own delimiters (Dovecot).
    const bool cut = !complete && first && header_end == limit;
    // The line break before the delimiter belongs to the delimiter.
    if (cut) header_end = content_end(first, begin);
    part.header = make_span(data, begin, header_end);
    fill_fields(part, header, in_digest);
    if (header_out != nullptr) *header_out = std::move(header);

    const bool too_deep = depth >= limits.max_depth || parts >= limits.max_parts;
    std::optional<Delimiter> ended;
    // A multipart in which no part starts is read as plain text at the top
    // of a message and as a multipart of one empty part inside another
    // multipart: how Dovecot reads the same mail, so that section numbers do
    // not change when a mailbox moves between the two servers.
    bool empty_multipart = false;
    if (cut) {
      empty_multipart = part.is_multipart();
      ended = first;
    } else if (part.is_multipart()) {
      const Param* boundary = part.content_type.param("boundary");
      if (too_deep || boundary == nullptr || boundary->value.empty()) {
        read_as_text(part);
        part.opaque = too_deep;
        ended = first;
      } else {
        ended = parse_multipart(part, header_end, boundary->value, depth);
        empty_multipart = part.children.empty();
      }
    } else if (part.is_message() && !too_deep) {
      part.children.emplace_back();
      ended = parse_part(part.children.back(), header_end, depth + 1, false, nullptr);
    } else {
      if (part.is_message()) part.opaque = true;
      ended = first;
    }
    // A last part with an empty body ends its header with the line break
    // that also precedes the delimiter: the enclosing body keeps it, so that
    // every part lies inside its parent.
    std::uint64_t floor = header_end;
    if (!part.children.empty()) floor = std::max(floor, part.children.back().body.end);
    finish_body(part, header_end, content_end(ended, floor));
    if (empty_multipart) {
      if (in_multipart) {
        part.children.emplace_back();
        Part& only = part.children.back();
        only.header = Span{part.body.begin, part.body.begin, 0};
        finish_body(only, part.body.begin, part.body.end);
      } else {
        read_as_text(part);
        finish_body(part, part.body.begin, part.body.end);
      }
    }
    return ended;
  }

  std::optional<Delimiter> parse_multipart(Part& part, std::uint64_t body_begin,
                                           const std::string& boundary, unsigned depth) {
    const std::size_t level = boundaries.size();
    const bool digest = part.content_type.is("multipart", "digest");
    boundaries.push_back(boundary);
    auto d = next_delimiter(body_begin);  // skips the preamble
    while (d && d->level == level && !d->close) {
      if (parts >= limits.max_parts) {
        // The rest of this multipart is one opaque part.
        part.children.emplace_back();
        Part& rest = part.children.back();
        rest.opaque = true;
        rest.header = Span{d->next_line, d->next_line, 0};
        boundaries.back().clear();
        d = next_delimiter(d->next_line);
        finish_body(rest, rest.header.end, content_end(d, rest.header.end));
        boundaries.pop_back();
        return d;
      }
      part.children.emplace_back();
      d = parse_part(part.children.back(), d->next_line, depth + 1, digest, nullptr, true);
    }
    if (d && d->level == level) {
      // The close delimiter: the epilogue runs to an enclosing delimiter.
      boundaries.back().clear();
      d = next_delimiter(d->next_line);
    }
    boundaries.pop_back();
    return d;
  }
};

void walk_leaves(const Part& part, const std::string& section, std::vector<Leaf>& out) {
  if (part.is_multipart()) {
    for (std::size_t i = 0; i < part.children.size(); ++i) {
      walk_leaves(part.children[i], section.empty() ? std::to_string(i + 1)
                                                    : section + "." + std::to_string(i + 1),
                  out);
    }
    return;
  }
  out.push_back(Leaf{section.empty() ? "1" : section, &part});
  if (part.is_message() && !part.children.empty()) {
    const Part& nested = part.children.front();
    std::string base = section.empty() ? "1" : section;
    if (nested.is_multipart()) {
      walk_leaves(nested, base, out);
    } else {
      out.push_back(Leaf{base + ".1", &nested});
    }
  }
}

}  // namespace

const HeaderField* Header::find(std::string_view name) const {
  for (const auto& f : fields) {
    if (ascii_iequals(f.name, name)) return &f;
  }
  return nullptr;
}

std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    if (c == '\n') continue;
    out.push_back(c);
  }
  return std::string(trim(out));
}

bool ContentType::is(std::string_view t) const { return ascii_iequals(type, t); }
bool ContentType::is(std::string_view t, std::string_view s) const {
  return ascii_iequals(type, t) && ascii_iequals(subtype, s);
}
const Param* ContentType::param(std::string_view name) const {
  for (const auto& p : params) {
    if (ascii_iequals(p.name, name)) return &p;
  }
  return nullptr;
}

bool Part::is_message() const {
  // Parsed as a message whatever its transfer encoding: IMAP's BODYSTRUCTURE
  // must describe message/rfc822 with an envelope and a body (RFC 9051 §9),
  // and an encoded one then shows an empty envelope, as in Dovecot.
  return content_type.is("message", "rfc822") || content_type.is("message", "global");
}

std::uint64_t parse_header(std::string_view data, std::uint64_t begin, std::uint64_t end,
                           Header& header, unsigned max_fields) {
  bool complete = false;
  return header_block(data, begin, end, header, max_fields, complete);
}

std::uint64_t header_block(std::string_view data, std::uint64_t begin, std::uint64_t end,
                           Header& header, unsigned max_fields, bool& complete) {
  complete = false;
  std::uint64_t pos = begin;
  bool have_field = false;
  while (pos < end) {
    std::uint64_t eol = line_end(data, pos, end);
    std::uint64_t content_end = eol;
    if (content_end > pos && data[content_end - 1] == '\r') --content_end;
    if (content_end == pos) {  // the empty line
      complete = true;
      return std::min(eol + 1, end);
    }
    char first = data[pos];
    if (first == ' ' || first == '\t') {
      if (have_field && !header.fields.empty()) {
        auto& last = header.fields.back();
        const char* value_begin = last.raw_value.data();
        last.raw_value = std::string_view(
            value_begin, static_cast<std::size_t>(data.data() + content_end - value_begin));
      }
      pos = eol + 1;
      continue;
    }
    std::uint64_t colon = pos;
    while (colon < content_end && is_field_name_char(static_cast<unsigned char>(data[colon]))) {
      ++colon;
    }
    std::uint64_t name_end = colon;
    while (colon < content_end && (data[colon] == ' ' || data[colon] == '\t')) ++colon;
    if (colon >= content_end || data[colon] != ':' || name_end == pos) {
      // Not a field (an mbox "From " line, garbage): still part of the
      // header, which ends only at the empty line, as Dovecot reads it.
      have_field = false;
      pos = eol + 1;
      continue;
    }
    have_field = header.fields.size() < max_fields;
    if (have_field) {
      header.fields.push_back(HeaderField{
          data.substr(pos, name_end - pos),
          data.substr(colon + 1, content_end - (colon + 1)),
      });
    }
    pos = eol + 1;
  }
  return end;
}

ContentType parse_content_type(std::string_view value) {
  Cursor c{value};
  ContentType ct;
  std::string type = c.token();
  if (type.empty() || !c.eat('/')) return ct;
  std::string subtype = c.token();
  if (subtype.empty()) return ct;
  ct.type = std::move(type);
  ct.subtype = std::move(subtype);
  ct.defaulted = false;
  ct.params = parse_params(c);
  return ct;
}

Disposition parse_disposition(std::string_view value) {
  Cursor c{value};
  Disposition d;
  d.type = c.token();
  if (d.type.empty()) return d;
  d.params = parse_params(c);
  return d;
}

Span make_span(std::string_view data, std::uint64_t begin, std::uint64_t end) {
  return Span{begin, end, scan(data, begin, end).wire(end - begin)};
}

Message parse(std::string_view data, const Limits& limits) {
  Message m;
  m.data = data;
  Parser p{data, limits};
  p.end = data.size();
  p.parse_part(m.root, 0, 0, false, &m.header);
  m.wire_size = m.root.header.wire_size + m.root.body.wire_size;
  m.part_count = p.parts;
  return m;
}

std::uint64_t wire_size(std::string_view data) { return scan(data, 0, data.size()).wire(data.size()); }

const Part* find_part(const Message& message, const std::vector<unsigned>& path) {
  const Part* context = &message.root;  // what the next number counts within
  const Part* current = path.empty() ? &message.root : nullptr;
  for (unsigned n : path) {
    if (current != nullptr) {
      if (current->is_message() && !current->children.empty()) {
        context = &current->children.front();
      } else if (current->is_multipart()) {
        context = current;
      } else {
        return nullptr;
      }
    }
    if (context->is_multipart()) {
      if (n == 0 || n > context->children.size()) return nullptr;
      current = &context->children[n - 1];
    } else {
      if (n != 1) return nullptr;
      current = context;
    }
  }
  return current;
}

std::vector<Leaf> leaves(const Message& message) {
  std::vector<Leaf> out;
  walk_leaves(message.root, "", out);
  return out;
}

}  // namespace roost::mime

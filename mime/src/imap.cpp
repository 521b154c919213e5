#include "roost/mime/imap.hpp"

#include <algorithm>
#include <optional>

#include "roost/mime/address.hpp"
#include "roost/mime/decode.hpp"
#include "text.hpp"

namespace roost::mime {
namespace {

// Longer strings go as literals: quoted strings that long are a burden on
// clients' line-based readers for no gain.
constexpr std::size_t max_quoted = 1024;

bool quotable(std::string_view s) {
  if (s.size() > max_quoted) return false;
  for (unsigned char c : s) {
    if (c == '\r' || c == '\n' || c >= 0x80) return false;
  }
  return true;
}

void append_address_list(std::string& out, const HeaderField* field) {
  if (field == nullptr) {
    out += "NIL";
    return;
  }
  auto addresses = parse_address_list(field->raw_value);
  if (addresses.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const auto& a : addresses) {
    out += '(';
    switch (a.kind) {
      case Address::Kind::group_start:
        out += "NIL NIL ";
        append_string(out, a.name);
        out += " NIL";
        break;
      case Address::Kind::group_end:
        out += "NIL NIL NIL NIL";
        break;
      case Address::Kind::mailbox:
        if (a.name.empty()) out += "NIL";
        else append_string(out, a.name);
        out += ' ';
        if (a.route.empty()) out += "NIL";
        else append_string(out, a.route);
        out += ' ';
        append_string(out, a.mailbox);
        out += ' ';
        // Never NIL here: a NIL host marks a group (RFC 9051 §7.5.2).
        append_string(out, a.host);
        break;
    }
    out += ')';
  }
  out += ')';
}

bool has_addresses(const HeaderField* field) {
  return field != nullptr && !parse_address_list(field->raw_value).empty();
}

void append_params(std::string& out, const std::vector<Param>& params_as_written, bool text) {
  bool continued = std::ranges::any_of(params_as_written, [](const Param& p) {
    return p.name.find('*') != std::string::npos;
  });
  std::vector<Param> joined;
  if (continued) joined = join_param_continuations(params_as_written);
  const std::vector<Param>& params = continued ? joined : params_as_written;
  bool charset = std::ranges::any_of(params, [](const Param& p) { return ascii_iequals(p.name, "charset"); });
  if (params.empty() && !(text && !charset)) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const auto& p : params) {
    if (!first) out += ' ';
    first = false;
    append_string(out, p.name);
    out += ' ';
    append_string(out, p.value);
  }
  if (text && !charset) {
    // RFC 2045 §5.2: text without a charset is US-ASCII.
    if (!first) out += ' ';
    out += "\"charset\" \"us-ascii\"";
  }
  out += ')';
}

void append_optional(std::string& out, const std::string& value) {
  if (value.empty()) out += "NIL";
  else append_string(out, value);
}

void append_disposition(std::string& out, const Disposition& d) {
  if (d.type.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  append_string(out, d.type);
  out += ' ';
  append_params(out, d.params, false);
  out += ')';
}

void append_language(std::string& out, const std::vector<std::string>& language) {
  if (language.empty()) {
    out += "NIL";
  } else if (language.size() == 1) {
    append_string(out, language.front());
  } else {
    out += '(';
    for (std::size_t i = 0; i < language.size(); ++i) {
      if (i > 0) out += ' ';
      append_string(out, language[i]);
    }
    out += ')';
  }
}

std::string encoding_of(const Part& part) {
  if (part.encoding.empty()) return "7BIT";
  for (const char* known : {"7BIT", "8BIT", "BINARY", "BASE64", "QUOTED-PRINTABLE"}) {
    if (ascii_iequals(part.encoding, known)) return known;
  }
  return part.encoding;
}

// The extension fields both kinds of body end with: disposition, language,
// location (RFC 9051 body-ext-1part, body-ext-mpart).
void append_dsp_lang_loc(std::string& out, const Part& part) {
  out += ' ';
  append_disposition(out, part.disposition);
  out += ' ';
  append_language(out, part.language);
  out += ' ';
  append_optional(out, part.location);
}

// A part rendered as body-type-msg under `grammar`: the grammar's
// media-message, which body-type-basic must never be.
bool renders_as_message(const Part& part, Grammar grammar) {
  return part.content_type.is("message", "rfc822") ||
         (grammar == Grammar::imap4rev2 && part.content_type.is("message", "global"));
}

bool holds_message_global(const Part& part) {
  if (part.content_type.is("message", "global")) return true;
  for (const auto& child : part.children)
    if (holds_message_global(child)) return true;
  return false;
}

void append_part(std::string& out, const Message& m, const Part& part, bool ext, Grammar grammar) {
  out += '(';
  if (part.is_multipart()) {
    for (const auto& child : part.children) append_part(out, m, child, ext, grammar);
    out += ' ';
    append_string(out, part.content_type.subtype);
    if (ext) {
      out += ' ';
      append_params(out, part.content_type.params, false);
      append_dsp_lang_loc(out, part);
    }
    out += ')';
    return;
  }
  const bool text = part.content_type.is("text");
  append_string(out, part.content_type.type);
  out += ' ';
  append_string(out, part.content_type.subtype);
  out += ' ';
  append_params(out, part.content_type.params, text);
  out += ' ';
  append_optional(out, part.id);
  out += ' ';
  append_optional(out, part.description);
  out += ' ';
  append_string(out, encoding_of(part));
  out += ' ';
  out += std::to_string(part.body.wire_size);
  if (renders_as_message(part, grammar)) {
    out += ' ';
    if (part.children.empty()) {
      // Past a parse limit: an empty envelope and the content as one
      // opaque part, so the grammar still holds.
      out += "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" ";
      out += std::to_string(part.body.wire_size);
      out += ext ? " NIL NIL NIL NIL)" : ")";
    } else {
      const Part& nested = part.children.front();
      Header header;
      parse_header(m.data, nested.header.begin, nested.header.end, header, 5000);
      out += envelope(header);
      out += ' ';
      append_part(out, m, nested, ext, grammar);
    }
    out += ' ';
    out += std::to_string(part.body_lines);
  } else if (text) {
    out += ' ';
    out += std::to_string(part.body_lines);
  }
  if (ext) {
    out += ' ';
    append_optional(out, part.md5);
    append_dsp_lang_loc(out, part);
  }
  out += ')';
}

}  // namespace

void append_string(std::string& out, std::string_view value) {
  std::string clean;
  if (value.find('\0') != std::string_view::npos) {
    // NUL cannot travel in an IMAP string; drop it.
    clean.assign(value);
    std::erase(clean, '\0');
    value = clean;
  }
  if (quotable(value)) {
    out += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    return;
  }
  out += '{';
  out += std::to_string(value.size());
  out += "}\r\n";
  out.append(value);
}

void append_nstring(std::string& out, const std::string* value) {
  if (value == nullptr) {
    out += "NIL";
    return;
  }
  append_string(out, *value);
}

std::string envelope(const Header& header) {
  auto unfolded = [&](std::string_view name) -> std::optional<std::string> {
    const HeaderField* f = header.find(name);
    if (f == nullptr) return std::nullopt;
    return unfold(f->raw_value);
  };
  std::string out = "(";
  for (const char* name : {"Date", "Subject"}) {
    auto v = unfolded(name);
    append_nstring(out, v ? &*v : nullptr);
    out += ' ';
  }
  const HeaderField* from = header.find("From");
  append_address_list(out, from);
  for (const char* name : {"Sender", "Reply-To"}) {
    out += ' ';
    const HeaderField* f = header.find(name);
    append_address_list(out, has_addresses(f) ? f : from);
  }
  for (const char* name : {"To", "Cc", "Bcc"}) {
    out += ' ';
    append_address_list(out, header.find(name));
  }
  for (const char* name : {"In-Reply-To", "Message-ID"}) {
    out += ' ';
    auto v = unfolded(name);
    append_nstring(out, v ? &*v : nullptr);
  }
  out += ')';
  return out;
}

std::string envelope(const Message& message) { return envelope(message.header); }

std::string body_structure(const Message& message, bool extensible, Grammar grammar) {
  std::string out;
  append_part(out, message, message.root, extensible, grammar);
  return out;
}

bool renders_differ_by_revision(const Message& message) { return holds_message_global(message.root); }

}  // namespace roost::mime

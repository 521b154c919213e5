// FETCH items (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 8970 PREVIEW, RFC 8514
// SAVEDATE) and their sections.
#include "parse_internal.hpp"
#include "text.hpp"

namespace roost::imap {
namespace {

using FK = FetchItem::Kind;

}  // namespace

// section-part = nz-number *("." nz-number), then for BODY an optional
// "." section-text; `binary` sections are parts only.
bool parse_section(Cursor& c, Section& out, bool binary) {
  if (!c.expect('[', "'['")) return false;
  if (c.eat(']')) return true;
  bool text_follows = !c.peek_digit();
  if (!text_follows) {
    for (;;) {
      auto n = c.nz_number();
      if (!n) return false;
      out.part.push_back(*n);
      if (!c.eat('.')) break;
      if (!c.peek_digit()) {
        text_follows = true;
        break;
      }
    }
  }
  if (!text_follows) return c.expect(']', "']'");
  if (binary) return c.fail("A BINARY section is part numbers only");
  std::string word = c.peek_word();
  if (word == "HEADER.FIELDS.NOT" || word == "HEADER.FIELDS") {
    c.eat_word(word);
    out.text = word == "HEADER.FIELDS" ? Section::Text::header_fields : Section::Text::header_fields_not;
    if (!c.space() || !c.open_paren()) return c.fail("Expected a list of header field names");
    do {
      auto field = c.astring();
      if (!field) return false;
      out.fields.push_back(std::move(*field));
    } while (c.eat(' '));
    if (!c.close_paren()) return false;
  } else if (word == "HEADER" || word == "TEXT" || (word == "MIME" && !out.part.empty())) {
    c.eat_word(word);
    out.text = word == "HEADER" ? Section::Text::header : word == "TEXT" ? Section::Text::text : Section::Text::mime;
  } else {
    return c.fail("Invalid section");
  }
  return c.expect(']', "']'");
}

namespace {

bool partial(Cursor& c, FetchItem& item) {
  if (!c.eat('<')) return true;
  auto offset = c.number();
  if (!offset || !c.expect('.', "'.' in a partial")) return false;
  auto length = c.nz_number();
  if (!length) return false;
  item.partial = Partial{*offset, *length};
  return c.expect('>', "'>'");
}

bool fetch_att(Cursor& c, std::vector<FetchItem>& out) {
  std::string word = c.peek_word();
  static const std::pair<std::string_view, FK> simple[] = {
      {"FLAGS", FK::flags},       {"INTERNALDATE", FK::internaldate}, {"RFC822.SIZE", FK::rfc822_size},
      {"ENVELOPE", FK::envelope}, {"BODYSTRUCTURE", FK::bodystructure}, {"UID", FK::uid},
      {"RFC822", FK::rfc822},     {"RFC822.HEADER", FK::rfc822_header}, {"RFC822.TEXT", FK::rfc822_text},
      {"SAVEDATE", FK::savedate}, {"MODSEQ", FK::modseq},           {"EMAILID", FK::emailid},
      {"THREADID", FK::threadid}};
  for (auto [name, kind] : simple) {
    if (word == name && c.eat_word(name)) {
      out.push_back(FetchItem{.kind = kind});
      return true;
    }
  }
  if (word == "PREVIEW" && c.eat_word("PREVIEW")) {
    FetchItem item{.kind = FK::preview};
    if (c.peek(' ') ) {
      // PREVIEW (LAZY): look past the space without taking a following item.
      Cursor probe = c;
      probe.eat(' ');
      if (probe.peek('(')) {
        c.eat(' ');
        if (!c.open_paren()) return false;
        if (!c.eat_word("LAZY")) return c.fail("Unknown PREVIEW modifier");
        item.lazy = true;
        if (!c.close_paren()) return false;
      }
    }
    out.push_back(std::move(item));
    return true;
  }
  if (word == "BODY" || word == "BODY.PEEK") {
    c.eat_word(word);
    FetchItem item{.kind = FK::body, .peek = word == "BODY.PEEK"};
    if (c.peek('[')) {
      item.kind = FK::body_section;
      if (!parse_section(c, item.section, false) || !partial(c, item)) return false;
    } else if (item.peek) {
      return c.fail("BODY.PEEK needs a section");
    }
    out.push_back(std::move(item));
    return true;
  }
  if (word == "BINARY" || word == "BINARY.PEEK" || word == "BINARY.SIZE") {
    c.eat_word(word);
    FetchItem item{.kind = word == "BINARY.SIZE" ? FK::binary_size : FK::binary, .peek = word == "BINARY.PEEK"};
    if (!parse_section(c, item.section, true)) return false;
    if (item.kind == FK::binary && !partial(c, item)) return false;
    out.push_back(std::move(item));
    return true;
  }
  return c.fail(word.empty() ? "Expected a fetch item" : "Unknown fetch item " + word);
}

}  // namespace

bool parse_fetch_atts(Cursor& c, std::vector<FetchItem>& out) {
  if (!c.open_paren()) return false;
  do {
    if (!fetch_att(c, out)) return false;
  } while (c.eat(' '));
  return c.close_paren();
}

bool parse_fetch(Cursor& c, Fetch& out) {
  if (!c.space()) return false;
  auto set = c.sequence_set();
  if (!set) return false;
  out.set = std::move(*set);
  if (!c.space()) return false;
  // Macros (RFC 9051 §6.4.5).
  auto add = [&](std::initializer_list<FK> kinds) {
    for (FK k : kinds) out.items.push_back(FetchItem{.kind = k});
  };
  if (c.eat_word("ALL")) {
    add({FK::flags, FK::internaldate, FK::rfc822_size, FK::envelope});
  } else if (c.eat_word("FAST")) {
    add({FK::flags, FK::internaldate, FK::rfc822_size});
  } else if (c.eat_word("FULL")) {
    add({FK::flags, FK::internaldate, FK::rfc822_size, FK::envelope, FK::body});
  } else if (c.peek('(')) {
    if (!parse_fetch_atts(c, out.items)) return false;
  } else if (!fetch_att(c, out.items)) {
    return false;
  }
  // fetch-modifiers (RFC 4466 §2.4): CHANGEDSINCE and VANISHED (RFC 7162),
  // PARTIAL (RFC 9394 §3.3).
  if (!c.eat(' ')) return true;
  constexpr const char* expected = "Expected (CHANGEDSINCE n [VANISHED]) or (PARTIAL range)";
  if (!c.open_paren()) return c.fail(expected);
  do {
    if (c.eat_word("CHANGEDSINCE")) {
      if (out.changed_since || !c.space()) return c.fail(expected);
      auto modseq = c.number();
      if (!modseq) return false;
      out.changed_since = *modseq;
    } else if (c.eat_word("VANISHED") && !out.vanished) {
      out.vanished = true;
    } else if (c.eat_word("PARTIAL") && !out.partial) {
      PartialRange range;
      if (!c.space() || !parse_partial_range(c, range)) return false;
      out.partial = range;
    } else {
      return c.fail(expected);
    }
  } while (c.eat(' '));
  // VANISHED only narrows CHANGEDSINCE (RFC 7162 §3.2.6).
  if (out.vanished && !out.changed_since) return c.fail("VANISHED needs CHANGEDSINCE");
  return c.close_paren();
}

}  // namespace roost::imap

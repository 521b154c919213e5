// SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 4731 RETURN options).
#include <algorithm>

#include "parse_internal.hpp"
#include "text.hpp"

namespace roost::imap {
namespace {

using K = SearchNode::Kind;

bool search_key(Cursor& c, SearchNode& out);

bool key_with_text(Cursor& c, SearchNode& out, K kind, std::string field = {}) {
  if (!c.space()) return false;
  auto text = c.astring();
  if (!text) return false;
  out.kind = kind;
  out.field = std::move(field);
  out.text = std::move(*text);
  return true;
}

bool key_with_date(Cursor& c, SearchNode& out, K kind) {
  if (!c.space()) return false;
  auto day = c.date();
  if (!day) return false;
  out.kind = kind;
  out.day = *day;
  return true;
}

bool key_with_number(Cursor& c, SearchNode& out, K kind) {
  if (!c.space()) return false;
  auto n = c.number();
  if (!n) return false;
  out.kind = kind;
  out.number = *n;
  return true;
}

bool key_with_keyword(Cursor& c, SearchNode& out, K kind) {
  if (!c.space()) return false;
  auto keyword = c.atom();
  if (!keyword) return false;
  out.kind = kind;
  out.text = std::move(*keyword);
  return true;
}

// One or more keys separated by spaces up to `stop` (')' or the end).
bool key_list(Cursor& c, std::vector<SearchNode>& out, bool until_paren) {
  do {
    SearchNode node;
    if (!search_key(c, node)) return false;
    out.push_back(std::move(node));
  } while (c.eat(' '));
  if (until_paren ? !c.peek(')') : !c.at_end()) return c.fail("Expected a search key");
  return true;
}

bool search_key(Cursor& c, SearchNode& out) {
  if (c.peek('(')) {
    if (!c.open_paren()) return false;
    out.kind = K::and_;
    if (!key_list(c, out.children, true)) return false;
    return c.close_paren();
  }
  if (c.peek('$') || c.peek('*') || c.peek_digit()) {
    auto set = c.sequence_set();
    if (!set) return false;
    out.kind = K::sequence;
    out.set = std::move(*set);
    return true;
  }
  std::string word = c.peek_word();
  if (word.empty()) return c.fail("Expected a search key");
  if (!c.eat_word(word)) return c.fail("Expected a search key");
  static const std::pair<std::string_view, K> flag_keys[] = {
      {"ALL", K::all},         {"ANSWERED", K::answered},     {"DELETED", K::deleted},
      {"DRAFT", K::draft},     {"FLAGGED", K::flagged},       {"SEEN", K::seen},
      {"UNANSWERED", K::unanswered}, {"UNDELETED", K::undeleted}, {"UNDRAFT", K::undraft},
      {"UNFLAGGED", K::unflagged},   {"UNSEEN", K::unseen},   {"RECENT", K::recent},
      {"NEW", K::new_},        {"OLD", K::old},         {"SAVEDATESUPPORTED", K::savedate_supported}};
  for (auto [name, kind] : flag_keys) {
    if (word == name) {
      out.kind = kind;
      return true;
    }
  }
  static const std::string_view address_fields[] = {"FROM", "TO", "CC", "BCC", "SUBJECT"};
  for (auto field : address_fields) {
    if (word == field) {
      std::string name = field == "SUBJECT" ? "Subject" : field == "FROM" ? "From" : field == "TO" ? "To"
                         : field == "CC" ? "Cc" : "Bcc";
      return key_with_text(c, out, K::header, std::move(name));
    }
  }
  if (word == "EMAILID" || word == "THREADID") {
    // RFC 8474 §6: objectid = 1*255(ALPHA / DIGIT / "_" / "-"), an atom.
    if (!key_with_keyword(c, out, word == "EMAILID" ? K::emailid : K::threadid)) return false;
    const bool valid = out.text.size() <= 255 && std::all_of(out.text.begin(), out.text.end(), [](char ch) {
      return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-';
    });
    return valid || c.fail("Invalid object identifier");
  }
  if (word == "BODY") return key_with_text(c, out, K::body);
  if (word == "TEXT") return key_with_text(c, out, K::text);
  if (word == "KEYWORD") return key_with_keyword(c, out, K::keyword);
  if (word == "UNKEYWORD") return key_with_keyword(c, out, K::unkeyword);
  if (word == "BEFORE") return key_with_date(c, out, K::before);
  if (word == "ON") return key_with_date(c, out, K::on);
  if (word == "SINCE") return key_with_date(c, out, K::since);
  if (word == "SENTBEFORE") return key_with_date(c, out, K::sent_before);
  if (word == "SENTON") return key_with_date(c, out, K::sent_on);
  if (word == "SENTSINCE") return key_with_date(c, out, K::sent_since);
  if (word == "SAVEDBEFORE") return key_with_date(c, out, K::saved_before);
  if (word == "SAVEDON") return key_with_date(c, out, K::saved_on);
  if (word == "SAVEDSINCE") return key_with_date(c, out, K::saved_since);
  if (word == "LARGER") return key_with_number(c, out, K::larger);
  if (word == "SMALLER") return key_with_number(c, out, K::smaller);
  if (word == "OLDER" || word == "YOUNGER") {
    // RFC 5032: an interval in seconds, nz-number.
    if (!key_with_number(c, out, word == "OLDER" ? K::older : K::younger)) return false;
    return out.number != 0 || c.fail("An interval is at least one second");
  }
  if (word == "MODSEQ") {
    // MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162
    // §3.1.5). One mod-sequence per message here, so the entry is read and
    // ignored, as the RFC asks of such servers.
    if (!c.space()) return false;
    if (c.peek('"')) {
      auto entry = c.astring();
      if (!entry || !entry->starts_with("/flags/") || !c.space()) return c.fail("Expected \"/flags/NAME\"");
      std::string type = c.peek_word();
      if ((type != "PRIV" && type != "SHARED" && type != "ALL") || !c.eat_word(type) || !c.space())
        return c.fail("Expected priv, shared or all");
    }
    auto n = c.number();
    if (!n) return false;
    out.kind = K::modseq;
    out.number = *n;
    return true;
  }
  if (word == "HEADER") {
    if (!c.space()) return false;
    auto field = c.astring();
    if (!field) return false;
    return key_with_text(c, out, K::header, std::move(*field));
  }
  if (word == "UID") {
    if (!c.space()) return false;
    auto set = c.sequence_set();
    if (!set) return false;
    out.kind = K::uid;
    out.set = std::move(*set);
    return true;
  }
  if (word == "FUZZY" || word == "NOT" || word == "OR") {
    // search-key =/ "FUZZY" SP search-key (RFC 6203 §7), "NOT" SP search-key,
    // "OR" SP search-key SP search-key: each a level of nesting.
    if (!c.space() || !c.enter()) return false;
    out.kind = word == "FUZZY" ? K::fuzzy : word == "NOT" ? K::not_ : K::or_;
    out.children.resize(word == "OR" ? 2 : 1);
    bool ok = search_key(c, out.children[0]);
    if (ok && word == "OR") ok = c.space() && search_key(c, out.children[1]);
    c.leave();
    return ok;
  }
  return c.fail("Unknown search key " + word);
}

}  // namespace

bool parse_charset_and_keys(Cursor& c, std::string& charset, SearchNode& key) {
  if (!c.space()) return false;
  auto name = c.astring();
  if (!name) return false;
  charset = ascii_uppercase(*name);
  if (!c.space()) return false;
  key.kind = K::and_;
  return key_list(c, key.children, false);
}

bool parse_partial_range(Cursor& c, PartialRange& out) {
  const bool from_last = c.eat('-');
  auto first = c.nz_number();
  if (!first || !c.expect(':', "':'")) return c.fail("Expected a range like 1:100 or -1:-100");
  if (from_last != c.eat('-')) return c.fail("Both ends of a PARTIAL range have the same sign");
  auto last = c.nz_number();
  if (!last) return c.fail("Expected a range like 1:100 or -1:-100");
  const std::int64_t sign = from_last ? -1 : 1;
  out.first = sign * static_cast<std::int64_t>(*first);
  out.last = sign * static_cast<std::int64_t>(*last);
  return true;
}

bool parse_returns(Cursor& c, std::optional<SearchReturns>& out) {
  if (!c.eat_word("RETURN")) return true;
  if (!c.space() || !c.open_paren()) return c.fail("Expected RETURN (...)");
  out.emplace();
  auto& options = out->options;
  while (!c.peek(')')) {
    std::string option = c.peek_word();
    static const std::pair<std::string_view, SearchReturn> names[] = {
        {"MIN", SearchReturn::min},     {"MAX", SearchReturn::max},   {"ALL", SearchReturn::all},
        {"COUNT", SearchReturn::count}, {"SAVE", SearchReturn::save}, {"PARTIAL", SearchReturn::partial},
        {"CONTEXT", SearchReturn::context}, {"UPDATE", SearchReturn::update},
        {"RELEVANCY", SearchReturn::relevancy}};
    bool known = false;
    bool separated = false;  // the space after this option is eaten already
    for (auto [name, value] : names) {
      if (option == name && c.eat_word(name)) {
        options.push_back(value);
        known = true;
        if (value == SearchReturn::partial) {
          PartialRange range;
          if (!c.space() || !parse_partial_range(c, range)) return false;
          out->partial = range;
        }
        // RFC 5465 §7: UPDATE may carry the FETCH attributes of new results.
        if (value == SearchReturn::update && c.eat(' ')) {
          separated = true;
          if (c.peek('(')) {
            if (!parse_fetch_atts(c, out->update_fetch)) return false;
            separated = false;
          } else if (c.peek(')')) {
            return c.fail("Expected a return option");
          }
        }
      }
    }
    if (!known) return c.fail("Unknown return option " + option);
    if (!separated && !c.peek(')') && !c.space()) return false;
  }
  // RFC 9394 §3.1: one PARTIAL or one ALL, not both.
  const auto count = [&](SearchReturn x) { return std::count(options.begin(), options.end(), x); };
  if (count(SearchReturn::partial) + count(SearchReturn::all) > 1) return c.fail("PARTIAL and ALL exclude each other");
  return c.close_paren() && c.space();
}

bool parse_search(Cursor& c, Search& out) {
  if (!c.space()) return false;
  if (!parse_returns(c, out.returns)) return false;
  if (c.eat_word("CHARSET")) {
    if (!c.space()) return false;
    auto charset = c.astring();
    if (!charset) return false;
    out.charset = ascii_uppercase(*charset);
    if (!c.space()) return false;
  }
  out.key.kind = K::and_;
  return key_list(c, out.key.children, false);
}

}  // namespace roost::imap

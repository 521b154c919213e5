// parse_command(): the tag, the command name looked up in one table, and
// the command's own parser (RFC 9051 §9 and the extensions' grammars).
#include <algorithm>
#include <functional>

#include "parse_internal.hpp"
#include "text.hpp"

namespace roost::imap {
namespace {

using Parse = std::function<bool(Cursor&, Command&)>;

template <class T>
T& make(Command& command) {
  return command.emplace<T>();
}

template <class T>
Parse simple() {
  return [](Cursor&, Command& command) {
    make<T>(command);
    return true;
  };
}

bool mailbox_argument(Cursor& c, std::string& out) {
  if (!c.space()) return false;
  auto name = c.astring();
  if (!name) return false;
  out = std::move(*name);
  return true;
}

std::optional<StatusItem> status_item(Cursor& c) {
  static const std::pair<std::string_view, StatusItem> items[] = {
      {"MESSAGES", StatusItem::messages}, {"RECENT", StatusItem::recent},
      {"UIDNEXT", StatusItem::uidnext},   {"UIDVALIDITY", StatusItem::uidvalidity},
      {"UNSEEN", StatusItem::unseen},     {"DELETED", StatusItem::deleted},
      {"SIZE", StatusItem::size},         {"HIGHESTMODSEQ", StatusItem::highestmodseq},
      {"MAILBOXID", StatusItem::mailboxid}};
  std::string word = c.peek_word();
  for (auto [name, item] : items) {
    if (word == name && c.eat_word(name)) return item;
  }
  c.fail(word.empty() ? "Expected a status item" : "Unknown status item " + word);
  return std::nullopt;
}

bool status_items(Cursor& c, std::vector<StatusItem>& out) {
  if (!c.open_paren()) return c.fail("Expected a list of status items");
  do {
    auto item = status_item(c);
    if (!item) return false;
    out.push_back(*item);
  } while (c.eat(' '));
  return c.close_paren();
}

bool parse_authenticate(Cursor& c, Command& command) {
  auto& a = make<Authenticate>(command);
  if (!c.space()) return false;
  auto mechanism = c.atom();
  if (!mechanism) return false;
  a.mechanism = ascii_uppercase(*mechanism);
  if (c.eat(' ')) {
    // SASL-IR (RFC 4959): base64 or "=" for an empty response.
    auto initial = c.atom();
    if (!initial) return false;
    a.initial = std::move(*initial);
  }
  return true;
}

bool parse_login(Cursor& c, Command& command) {
  auto& l = make<Login>(command);
  if (!c.space()) return false;
  auto user = c.astring();
  if (!user || !c.space()) return false;
  auto password = c.astring();
  if (!password) return false;
  l.user = std::move(*user);
  l.password = std::move(*password);
  return true;
}

bool parse_enable(Cursor& c, Command& command) {
  auto& e = make<Enable>(command);
  do {
    if (!c.space()) return false;
    auto capability = c.atom();
    if (!capability) return false;
    e.capabilities.push_back(ascii_uppercase(*capability));
  } while (c.peek(' '));
  return true;
}

// COMPRESS mechanism (RFC 4978 §5).
bool parse_compress(Cursor& c, Command& command) {
  auto& z = make<Compress>(command);
  if (!c.space()) return false;
  auto mechanism = c.atom();
  if (!mechanism) return false;
  z.mechanism = ascii_uppercase(*mechanism);
  return true;
}

bool parse_id(Cursor& c, Command& command) {
  auto& id = make<Id>(command);
  if (!c.space()) return false;
  if (c.eat_word("NIL")) return true;
  if (!c.open_paren()) return c.fail("Expected NIL or a list of field/value pairs");
  id.fields.emplace();
  if (!c.peek(')')) {
    do {
      auto field = c.string();
      if (!field || !c.space()) return false;
      auto value = c.nstring();
      if (!value) return false;
      if (id.fields->size() >= 30) return c.fail("Too many ID fields (RFC 2971 §3.3 allows 30)");
      id.fields->emplace_back(std::move(*field), std::move(*value));
    } while (c.eat(' '));
  }
  return c.close_paren();
}

// "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 §7), after the word QRESYNC.
bool qresync_parameter(Cursor& c, Qresync& q) {
  if (!c.space() || !c.open_paren()) return c.fail("Expected (QRESYNC (uidvalidity modseq ...))");
  auto uidvalidity = c.nz_number();
  if (!uidvalidity || !c.space()) return false;
  auto modseq = c.number();
  if (!modseq) return false;
  if (*modseq == 0) return c.fail("A mod-sequence is positive");
  q.uidvalidity = *uidvalidity;
  q.modseq = *modseq;
  if (c.eat(' ') && !c.peek('(')) {
    auto known = c.sequence_set();
    if (!known) return false;
    q.known_uids = std::move(*known);
    c.eat(' ');
  }
  if (c.peek('(')) {
    if (!c.open_paren()) return false;
    auto sequences = c.sequence_set();
    if (!sequences || !c.space()) return false;
    auto uids = c.sequence_set();
    if (!uids || !c.close_paren()) return false;
    q.sequence_match.emplace(std::move(*sequences), std::move(*uids));
  }
  return c.close_paren();
}

Parse select(bool read_only) {
  return [read_only](Cursor& c, Command& command) {
    auto& s = make<Select>(command);
    s.read_only = read_only;
    if (!mailbox_argument(c, s.mailbox)) return false;
    if (c.eat(' ')) {
      if (!c.open_paren()) return c.fail("Expected SELECT parameters");
      if (!c.peek(')')) {
        do {
          if (c.eat_word("CONDSTORE")) {
            if (s.condstore) return c.fail("CONDSTORE is given twice");
            s.condstore = true;
          } else if (c.eat_word("QRESYNC")) {
            if (s.qresync) return c.fail("QRESYNC is given twice");
            if (!qresync_parameter(c, s.qresync.emplace())) return false;
          } else {
            return c.fail("Unknown SELECT parameter " + c.peek_word());
          }
        } while (c.eat(' '));
      }
      return c.close_paren();
    }
    return true;
  };
}

bool parse_create(Cursor& c, Command& command) {
  auto& cr = make<Create>(command);
  if (!mailbox_argument(c, cr.mailbox)) return false;
  if (c.eat(' ')) {
    // RFC 6154 §3: CREATE name (USE (\Drafts ...))
    if (!c.open_paren() || !c.eat_word("USE") || !c.space() || !c.open_paren())
      return c.fail("Expected (USE (...))");
    if (!c.peek(')')) {
      do {
        auto use = c.flag();
        if (!use) return false;
        cr.uses.push_back(std::move(*use));
      } while (c.eat(' '));
    }
    if (!c.close_paren() || !c.close_paren()) return false;
  }
  return true;
}

bool parse_rename(Cursor& c, Command& command) {
  auto& r = make<Rename>(command);
  return mailbox_argument(c, r.from) && mailbox_argument(c, r.to);
}

Parse subscribe(bool on) {
  return [on](Cursor& c, Command& command) {
    auto& s = make<Subscribe>(command);
    s.subscribe = on;
    return mailbox_argument(c, s.mailbox);
  };
}

template <class T>
Parse mailbox_only() {
  return [](Cursor& c, Command& command) {
    auto& t = make<T>(command);
    if constexpr (requires { t.mailbox; }) return mailbox_argument(c, t.mailbox);
    else return mailbox_argument(c, t.root);
  };
}

// LIST with RFC 5258 selection and return options and RFC 5819 STATUS.
bool metadata_entry(Cursor& c, bool to_set, std::string& out);

Parse list(List::Form form) {
  return [form](Cursor& c, Command& command) {
    auto& l = make<List>(command);
    l.form = form;
    if (!c.space()) return false;
    if (form == List::Form::list && c.peek('(')) {
      l.extended = true;
      if (!c.open_paren()) return false;
      if (!c.peek(')')) {
        do {
          auto option = c.atom();
          if (!option) return false;
          l.selection.push_back(ascii_uppercase(*option));
        } while (c.eat(' '));
      }
      if (!c.close_paren() || !c.space()) return false;
    }
    auto reference = c.astring();
    if (!reference || !c.space()) return false;
    l.reference = std::move(*reference);
    if (form == List::Form::list && c.peek('(')) {
      l.extended = true;
      if (!c.open_paren()) return false;
      do {
        auto pattern = c.list_mailbox();
        if (!pattern) return false;
        l.patterns.push_back(std::move(*pattern));
      } while (c.eat(' '));
      if (!c.close_paren()) return false;
    } else {
      auto pattern = c.list_mailbox();
      if (!pattern) return false;
      l.patterns.push_back(std::move(*pattern));
    }
    if (form == List::Form::list && c.eat(' ')) {
      l.extended = true;
      if (!c.eat_word("RETURN") || !c.space() || !c.open_paren()) return c.fail("Expected RETURN (...)");
      if (!c.peek(')')) {
        do {
          auto option = c.atom();
          if (!option) return false;
          std::string name = ascii_uppercase(*option);
          if (name == "STATUS") {
            if (!c.space() || !status_items(c, l.status)) return false;
          } else if (name == "METADATA") {
            // "METADATA" SP "(" entry *(SP entry) ")" (RFC 9590)
            if (!c.space() || !c.open_paren()) return c.fail("Expected METADATA (entries)");
            do {
              std::string entry;
              if (!metadata_entry(c, false, entry)) return false;
              l.metadata.push_back(std::move(entry));
            } while (c.eat(' '));
            if (!c.close_paren()) return false;
          }
          l.returns.push_back(std::move(name));
        } while (c.eat(' '));
      }
      if (!c.close_paren()) return false;
    }
    return true;
  };
}

bool parse_status(Cursor& c, Command& command) {
  auto& s = make<Status>(command);
  if (!mailbox_argument(c, s.mailbox) || !c.space()) return false;
  return status_items(c, s.items);
}

// append-opts SP append-data (RFC 4466 §2.1.1), after the space before it.
bool append_message(Cursor& c, AppendMessage& m) {
  if (c.peek('(')) {
    auto flags = c.flag_list();
    if (!flags || !c.space()) return false;
    m.flags = std::move(*flags);
  }
  if (c.peek('"')) {
    auto date = c.date_time();
    if (!date || !c.space()) return false;
    m.internal_date = *date;
  }
  if (c.eat_word("CATENATE")) {
    // "CATENATE" SP "(" cat-part *(SP cat-part) ")", cat-part = "TEXT" SP
    // literal / "URL" SP astring / "UTF8" SP "(" literal8 ")" (RFC 6855 §4).
    if (!c.space() || !c.open_paren()) return false;
    do {
      CatenatePart part;
      if (c.eat_word("TEXT")) {
        if (!c.space()) return false;
        auto data = c.literal(false);
        if (!data) return false;
        part.data = std::move(*data);
      } else if (c.eat_word("URL")) {
        if (!c.space()) return false;
        auto url = c.astring();
        if (!url) return false;
        part.url = true;
        part.data = std::move(*url);
      } else if (c.eat_word("UTF8")) {
        if (!c.space() || !c.open_paren()) return false;
        if (!c.peek('~')) return c.fail("UTF8 takes a literal8");
        auto data = c.literal(true);
        if (!data || !c.close_paren()) return false;
        part.data = std::move(*data);
        m.utf8 = true;
      } else {
        return c.fail("Expected TEXT, URL or UTF8 in CATENATE");
      }
      m.catenate.push_back(std::move(part));
    } while (c.eat(' '));
    return c.close_paren();
  }
  if (c.eat_word("UTF8")) {
    // utf8-literal = "UTF8" SP "(" literal8 ")" (RFC 6855 §4)
    if (!c.space() || !c.open_paren()) return false;
    if (!c.peek('~')) return c.fail("UTF8 takes a literal8");
    auto data = c.literal(true, &m.binary);
    if (!data || !c.close_paren()) return false;
    m.data = std::move(*data);
    m.utf8 = true;
    return true;
  }
  auto data = c.literal(true, &m.binary);
  if (!data) return false;
  m.data = std::move(*data);
  return true;
}

bool parse_append(Cursor& c, Command& command) {
  auto& a = make<Append>(command);
  if (!mailbox_argument(c, a.mailbox)) return false;
  do {
    if (!c.space()) return false;
    AppendMessage m;
    if (!append_message(c, m)) return false;
    a.messages.push_back(std::move(m));
  } while (c.peek(' '));
  return true;
}

// replace = "REPLACE" SP seq-number SP mailbox append-message (RFC 8508 §6).
bool parse_replace(Cursor& c, Command& command) {
  auto& r = make<Replace>(command);
  if (!c.space()) return false;
  auto number = c.nz_number();
  if (!number) return false;
  r.number = *number;
  if (!mailbox_argument(c, r.mailbox) || !c.space()) return false;
  return append_message(c, r.message);
}

bool parse_search_command(Cursor& c, Command& command) { return parse_search(c, make<Search>(command)); }
bool parse_fetch_command(Cursor& c, Command& command) { return parse_fetch(c, make<Fetch>(command)); }

bool parse_store(Cursor& c, Command& command) {
  auto& s = make<Store>(command);
  if (!c.space()) return false;
  auto set = c.sequence_set();
  if (!set || !c.space()) return false;
  s.set = std::move(*set);
  if (c.peek('(')) {
    // store-modifiers (RFC 4466 §2.5); UNCHANGEDSINCE is the one known.
    if (!c.open_paren() || !c.eat_word("UNCHANGEDSINCE") || !c.space()) return c.fail("Expected (UNCHANGEDSINCE n)");
    auto modseq = c.number();
    if (!modseq || !c.close_paren() || !c.space()) return false;
    s.unchanged_since = *modseq;
  }
  if (c.eat('+')) s.mode = StoreMode::add;
  else if (c.eat('-')) s.mode = StoreMode::remove;
  if (c.eat_word("FLAGS.SILENT")) s.silent = true;
  else if (!c.eat_word("FLAGS")) return c.fail("Expected FLAGS, +FLAGS or -FLAGS");
  if (!c.space()) return false;
  if (c.peek('(')) {
    auto flags = c.flag_list();
    if (!flags) return false;
    s.flags = std::move(*flags);
    return true;
  }
  do {
    auto flag = c.flag();
    if (!flag) return false;
    s.flags.push_back(std::move(*flag));
  } while (c.eat(' '));
  return true;
}

Parse copy(bool move) {
  return [move](Cursor& c, Command& command) {
    auto& cp = make<Copy>(command);
    cp.move = move;
    if (!c.space()) return false;
    auto set = c.sequence_set();
    if (!set) return false;
    cp.set = std::move(*set);
    return mailbox_argument(c, cp.mailbox);
  };
}

bool parse_setquota(Cursor& c, Command& command) {
  auto& q = make<SetQuota>(command);
  if (!mailbox_argument(c, q.root) || !c.space() || !c.open_paren()) return c.fail("Expected a quota root and a list");
  if (!c.peek(')')) {
    do {
      auto resource = c.atom();
      if (!resource || !c.space()) return false;
      auto limit = c.number();
      if (!limit) return false;
      q.limits.emplace_back(ascii_uppercase(*resource), *limit);
    } while (c.eat(' '));
  }
  return c.close_paren();
}

bool parse_sort(Cursor& c, Command& command) {
  auto& s = make<Sort>(command);
  if (!c.space() || !parse_returns(c, s.returns)) return false;
  if (!c.open_paren()) return c.fail("Expected sort criteria");
  static const std::pair<std::string_view, SortKey> keys[] = {
      {"ARRIVAL", SortKey::arrival}, {"CC", SortKey::cc},           {"DATE", SortKey::date},
      {"FROM", SortKey::from},       {"SIZE", SortKey::size},       {"SUBJECT", SortKey::subject},
      {"TO", SortKey::to},           {"DISPLAYFROM", SortKey::display_from}, {"DISPLAYTO", SortKey::display_to},
      {"RELEVANCY", SortKey::relevancy}};
  do {
    SortCriterion criterion;
    if (c.eat_word("REVERSE")) {
      criterion.reverse = true;
      if (!c.space()) return false;
    }
    std::string word = c.peek_word();
    bool known = false;
    for (auto [name, key] : keys) {
      if (word == name && c.eat_word(name)) {
        criterion.key = key;
        known = true;
        break;
      }
    }
    if (!known) return c.fail(word.empty() ? "Expected a sort key" : "Unknown sort key " + word);
    s.criteria.push_back(criterion);
  } while (c.eat(' '));
  if (!c.close_paren()) return false;
  return parse_charset_and_keys(c, s.charset, s.key);
}

bool parse_thread(Cursor& c, Command& command) {
  auto& t = make<Thread>(command);
  if (!c.space()) return false;
  std::string word = c.peek_word();
  if (word == "ORDEREDSUBJECT") t.algorithm = ThreadAlgorithm::ordered_subject;
  else if (word == "REFERENCES") t.algorithm = ThreadAlgorithm::references;
  else if (word == "REFS") t.algorithm = ThreadAlgorithm::refs;
  else return c.fail(word.empty() ? "Expected a threading algorithm" : "Unknown threading algorithm " + word);
  c.eat_word(word);
  return parse_charset_and_keys(c, t.charset, t.key);
}

// RFC 5464 §3.2: slash-separated, scope /private or /shared, at least two
// components (four under .../vendor/ when set), no "//", no trailing "/",
// no '*', '%', control characters or non-ASCII. Any other name is BAD.
bool metadata_entry(Cursor& c, bool to_set, std::string& out) {
  auto name = c.astring();
  if (!name) return false;
  auto invalid = [&] { return c.fail("Invalid entry name " + *name); };
  const std::string& n = *name;
  if (n.size() < 2 || n[0] != '/' || n.back() == '/' || n.find("//") != std::string::npos) return invalid();
  for (unsigned char ch : n)
    if (ch < 0x20 || ch > 0x7e || ch == '*' || ch == '%') return invalid();
  std::vector<std::string> parts;
  for (std::size_t at = 1; at <= n.size();) {
    std::size_t slash = std::min(n.find('/', at), n.size());
    parts.push_back(ascii_uppercase(n.substr(at, slash - at)));
    at = slash + 1;
  }
  if (parts[0] != "PRIVATE" && parts[0] != "SHARED") return invalid();
  if (parts.size() < 2) return invalid();
  if (to_set && parts[1] == "VENDOR" && parts.size() < 4) return invalid();
  out = std::move(*name);
  return true;
}

// getmetadata-options = "(" option *(SP option) ")", MAXSIZE n / DEPTH d.
bool metadata_options(Cursor& c, GetMetadata& g) {
  if (!c.open_paren()) return false;
  do {
    if (c.eat_word("MAXSIZE")) {
      if (!c.space()) return false;
      auto n = c.number();
      if (!n) return false;
      g.max_size = *n;
    } else if (c.eat_word("DEPTH")) {
      if (!c.space()) return false;
      if (c.eat_word("0")) g.depth = MetadataDepth::zero;
      else if (c.eat_word("1")) g.depth = MetadataDepth::one;
      else if (c.eat_word("INFINITY")) g.depth = MetadataDepth::infinity;
      else return c.fail("DEPTH is 0, 1 or infinity");
    } else {
      std::string word = c.peek_word();
      return c.fail(word.empty() ? "Expected a GETMETADATA option" : "Unknown GETMETADATA option " + word);
    }
  } while (c.eat(' '));
  return c.close_paren();
}

// getmetadata = "GETMETADATA" [SP options] SP mailbox SP entries. The
// options are also taken after the mailbox, where §4.2.1's examples put them.
bool parse_getmetadata(Cursor& c, Command& command) {
  auto& g = make<GetMetadata>(command);
  if (!c.space()) return false;
  if (c.peek('(')) {
    if (!metadata_options(c, g) || !c.space()) return false;
  }
  auto mailbox = c.astring();
  if (!mailbox || !c.space()) return false;
  g.mailbox = std::move(*mailbox);
  if (c.peek('(')) {
    std::string word = c.peek_word(1);
    if (word == "MAXSIZE" || word == "DEPTH") {
      if (!metadata_options(c, g) || !c.space()) return false;
    }
  }
  if (c.peek('(')) {
    if (!c.open_paren()) return false;
    do {
      std::string entry;
      if (!metadata_entry(c, false, entry)) return false;
      g.entries.push_back(std::move(entry));
    } while (c.eat(' '));
    return c.close_paren();
  }
  std::string entry;
  if (!metadata_entry(c, false, entry)) return false;
  g.entries.push_back(std::move(entry));
  return true;
}

// setmetadata = "SETMETADATA" SP mailbox SP "(" entry SP value *(...) ")",
// value = nstring / literal8.
bool parse_setmetadata(Cursor& c, Command& command) {
  auto& s = make<SetMetadata>(command);
  if (!mailbox_argument(c, s.mailbox) || !c.space() || !c.open_paren()) return false;
  do {
    std::string entry;
    if (!metadata_entry(c, true, entry) || !c.space()) return false;
    std::optional<std::string> value;
    if (c.at_literal()) {
      auto bytes = c.literal(true);
      if (!bytes) return false;
      value = std::move(*bytes);
    } else {
      auto n = c.nstring();
      if (!n) return false;
      value = std::move(*n);
    }
    s.entries.emplace_back(std::move(entry), std::move(value));
  } while (c.eat(' '));
  return c.close_paren();
}

// filter-mailboxes of RFC 5465 §6 (and, where `subtree_one` allows, RFC
// 7377's "subtree-one"): a filter name, then for subtree, subtree-one and
// mailboxes one mailbox or a parenthesised list of them.
bool parse_mailbox_filter(Cursor& c, MailboxFilter& filter, bool subtree_one) {
  using Kind = MailboxFilter::Kind;
  static const std::pair<std::string_view, Kind> names[] = {
      {"SELECTED", Kind::selected},       {"SELECTED-DELAYED", Kind::selected_delayed},
      {"INBOXES", Kind::inboxes},         {"PERSONAL", Kind::personal},
      {"SUBSCRIBED", Kind::subscribed},   {"SUBTREE", Kind::subtree},
      {"SUBTREE-ONE", Kind::subtree_one}, {"MAILBOXES", Kind::mailboxes}};
  std::string word = c.peek_word();
  bool known = false;
  for (auto [name, kind] : names) {
    if (word == name && (subtree_one || kind != Kind::subtree_one) && c.eat_word(name)) {
      filter.kind = kind;
      known = true;
      break;
    }
  }
  if (!known) return c.fail(word.empty() ? "Expected a mailbox filter" : "Unknown mailbox filter " + word);
  if (filter.kind == Kind::subtree || filter.kind == Kind::subtree_one || filter.kind == Kind::mailboxes) {
    // one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
    if (!c.space()) return false;
    const bool list = c.peek('(');
    if (list && !c.open_paren()) return false;
    do {
      auto name = c.astring();
      if (!name) return false;
      filter.mailboxes.push_back(std::move(*name));
    } while (list && c.eat(' '));
    if (list && !c.close_paren()) return false;
  }
  return true;
}

// "ESEARCH" [SP "IN" SP "(" filter *(SP filter) ")"] [SP search-return-opts]
// SP search-program (RFC 7377 §2).
bool parse_esearch(Cursor& c, Command& command) {
  auto& m = make<MultiSearch>(command);
  if (c.peek(' ') && c.peek_word(1) == "IN") {
    c.space();
    c.eat_word("IN");
    if (!c.space() || !c.open_paren()) return c.fail("Expected IN (...)");
    do {
      if (c.peek('(')) return c.fail("No scope options are known");
      MailboxFilter filter;
      if (!parse_mailbox_filter(c, filter, true)) return false;
      m.sources.push_back(std::move(filter));
    } while (c.eat(' '));
    if (!c.close_paren()) return false;
  }
  return parse_search(c, m.search);
}

// "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] SP event-groups) (RFC 5465 §8),
// with the rules of §5 and §6.1 that make a request BAD: MessageNew and
// MessageExpunge only together, FlagChange and AnnotationChange only with
// both, one SELECTED or SELECTED-DELAYED at most, and with it message
// events only; a fetch-att list only there.
bool parse_notify(Cursor& c, Command& command) {
  auto& n = make<Notify>(command);
  if (!c.space()) return false;
  if (c.eat_word("NONE")) {
    n.none = true;
    return true;
  }
  if (!c.eat_word("SET")) return c.fail("Expected NOTIFY SET or NOTIFY NONE");
  if (!c.space()) return false;
  if (c.eat_word("STATUS")) {
    n.status = true;
    if (!c.space()) return false;
  }
  static const std::pair<std::string_view, NotifyEvent> events[] = {
      {"MESSAGENEW", NotifyEvent::message_new},
      {"MESSAGEEXPUNGE", NotifyEvent::message_expunge},
      {"FLAGCHANGE", NotifyEvent::flag_change},
      {"ANNOTATIONCHANGE", NotifyEvent::annotation_change},
      {"MAILBOXNAME", NotifyEvent::mailbox_name},
      {"SUBSCRIPTIONCHANGE", NotifyEvent::subscription_change},
      {"MAILBOXMETADATACHANGE", NotifyEvent::mailbox_metadata_change},
      {"SERVERMETADATACHANGE", NotifyEvent::server_metadata_change}};
  bool selected_seen = false;
  do {
    if (!c.open_paren()) return c.fail("Expected an event group");
    NotifyGroup group;
    if (!parse_mailbox_filter(c, group.filter, false)) return false;
    const bool selected = group.filter.kind == MailboxFilter::Kind::selected ||
                          group.filter.kind == MailboxFilter::Kind::selected_delayed;
    if (selected && selected_seen) return c.fail("SELECTED or SELECTED-DELAYED may appear once");
    selected_seen = selected_seen || selected;
    if (!c.space()) return false;
    if (!c.eat_word("NONE")) {
      // §3.1's example writes the events without parentheses: taken too.
      const bool listed = c.peek('(');
      if (listed && !c.open_paren()) return false;
      do {
        std::string word = c.peek_word();
        auto known = std::find_if(std::begin(events), std::end(events), [&](const auto& e) { return e.first == word; });
        if (known == std::end(events)) {
          auto atom = c.atom();
          if (!atom) return c.fail("Expected an event");
          group.unknown_events.push_back(std::move(*atom));
          continue;
        }
        c.eat_word(known->first);
        group.events.push_back(known->second);
        if (known->second == NotifyEvent::message_new && c.peek(' ') && c.peek_word(1).empty() &&
            c.eat(' ')) {
          if (!c.peek('(')) return c.fail("Expected MessageNew's fetch attributes");
          if (!selected) return c.fail("Fetch attributes go with SELECTED or SELECTED-DELAYED only");
          if (!parse_fetch_atts(c, group.new_message_items)) return false;
        }
      } while (c.eat(' '));
      if (listed && !c.close_paren()) return false;
    }
    if (!c.close_paren()) return false;
    auto has = [&](NotifyEvent e) { return std::find(group.events.begin(), group.events.end(), e) != group.events.end(); };
    const bool message_new = has(NotifyEvent::message_new), message_expunge = has(NotifyEvent::message_expunge);
    if (message_new != message_expunge) return c.fail("MessageNew and MessageExpunge go together (RFC 5465 §5)");
    if ((has(NotifyEvent::flag_change) || has(NotifyEvent::annotation_change)) && !message_new)
      return c.fail("FlagChange and AnnotationChange need MessageNew and MessageExpunge (RFC 5465 §5)");
    if (selected && std::any_of(group.events.begin(), group.events.end(),
                                [](NotifyEvent e) { return e >= NotifyEvent::mailbox_name; }))
      return c.fail("SELECTED and SELECTED-DELAYED take message events only (RFC 5465 §6.1)");
    n.groups.push_back(std::move(group));
  } while (c.eat(' '));
  return true;
}

// "CANCELUPDATE" 1*(SP quoted) (RFC 5267 §5).
bool parse_cancelupdate(Cursor& c, Command& command) {
  auto& cu = make<CancelUpdate>(command);
  do {
    if (!c.space()) return false;
    if (!c.peek('"')) return c.fail("Expected a quoted tag");
    auto tag = c.string();
    if (!tag) return false;
    cu.tags.push_back(std::move(*tag));
  } while (c.peek(' '));
  return true;
}

// The index of alternative T in Command.
template <class T, class V = Command>
struct Alternative;
template <class T, class... Ts>
struct Alternative<T, std::variant<Ts...>> {
  static constexpr std::size_t index = [] {
    std::size_t i = 0;
    (void)((std::is_same_v<T, Ts> ? false : (++i, true)) && ...);
    return i;
  }();
};
template <class T>
constexpr std::size_t kind = Alternative<T>::index;

struct Entry {
  std::string_view name;
  Parse parse;
  std::size_t kind;       // the Command alternative it yields
  bool uid_form = false;  // may follow "UID"
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = {
      {"CAPABILITY", simple<Capability>(), kind<Capability>},
      {"NOOP", simple<Noop>(), kind<Noop>},
      {"LOGOUT", simple<Logout>(), kind<Logout>},
      {"STARTTLS", simple<StartTls>(), kind<StartTls>},
      {"AUTHENTICATE", parse_authenticate, kind<Authenticate>},
      {"LOGIN", parse_login, kind<Login>},
      {"ENABLE", parse_enable, kind<Enable>},
      {"ID", parse_id, kind<Id>},
      {"SELECT", select(false), kind<Select>},
      {"EXAMINE", select(true), kind<Select>},
      {"CREATE", parse_create, kind<Create>},
      {"DELETE", mailbox_only<Delete>(), kind<Delete>},
      {"RENAME", parse_rename, kind<Rename>},
      {"SUBSCRIBE", subscribe(true), kind<Subscribe>},
      {"UNSUBSCRIBE", subscribe(false), kind<Subscribe>},
      {"LIST", list(List::Form::list), kind<List>},
      {"LSUB", list(List::Form::lsub), kind<List>},
      {"XLIST", list(List::Form::xlist), kind<List>},
      {"NAMESPACE", simple<Namespace>(), kind<Namespace>},
      {"STATUS", parse_status, kind<Status>},
      {"APPEND", parse_append, kind<Append>},
      {"CHECK", simple<Check>(), kind<Check>},
      {"CLOSE", simple<Close>(), kind<Close>},
      {"UNSELECT", simple<Unselect>(), kind<Unselect>},
      {"EXPUNGE", simple<Expunge>(), kind<Expunge>, true},
      {"SEARCH", parse_search_command, kind<Search>, true},
      {"FETCH", parse_fetch_command, kind<Fetch>, true},
      {"STORE", parse_store, kind<Store>, true},
      {"COPY", copy(false), kind<Copy>, true},
      {"MOVE", copy(true), kind<Copy>, true},
      {"IDLE", simple<Idle>(), kind<Idle>},
      {"GETQUOTA", mailbox_only<GetQuota>(), kind<GetQuota>},
      {"GETQUOTAROOT", mailbox_only<GetQuotaRoot>(), kind<GetQuotaRoot>},
      {"SETQUOTA", parse_setquota, kind<SetQuota>},
      {"UNAUTHENTICATE", simple<Unauthenticate>(), kind<Unauthenticate>},
      {"SORT", parse_sort, kind<Sort>, true},
      {"THREAD", parse_thread, kind<Thread>, true},
      {"COMPRESS", parse_compress, kind<Compress>},
      {"REPLACE", parse_replace, kind<Replace>, true},
      {"GETMETADATA", parse_getmetadata, kind<GetMetadata>},
      {"SETMETADATA", parse_setmetadata, kind<SetMetadata>},
      {"CANCELUPDATE", parse_cancelupdate, kind<CancelUpdate>},
      {"ESEARCH", parse_esearch, kind<MultiSearch>},
      {"NOTIFY", parse_notify, kind<Notify>},
  };
  return entries;
}

}  // namespace

std::optional<std::size_t> command_kind(std::string_view name) {
  for (const auto& entry : table())
    if (ascii_iequals(entry.name, name)) return entry.kind;
  return std::nullopt;
}

std::variant<Request, SyntaxError> parse_command(const RawCommand& raw) {
  Request request;
  std::size_t space = raw.text.find(' ');
  std::string_view tag = std::string_view(raw.text).substr(0, space);
  if (!valid_tag(tag)) return SyntaxError{"", tag.empty() ? "Empty command line" : "Invalid tag"};
  request.tag = std::string(tag);
  if (space == std::string::npos) return SyntaxError{request.tag, "Missing command"};
  Cursor body(raw);
  body.skip(space + 1);
  std::string name = body.peek_word();
  if (name.empty() || !body.eat_word(name)) return SyntaxError{request.tag, "Missing command"};
  if (name == "UID") {
    request.uid = true;
    if (!body.space()) return SyntaxError{request.tag, "UID needs a command"};
    name = body.peek_word();
    if (name.empty() || !body.eat_word(name)) return SyntaxError{request.tag, "UID needs a command"};
  }
  for (const auto& entry : table()) {
    if (entry.name != name) continue;
    if (request.uid && !entry.uid_form) return SyntaxError{request.tag, "UID " + name + " is not a command"};
    if (request.uid && name == "EXPUNGE") {
      // UID EXPUNGE sequence-set (RFC 4315 §2.1)
      auto& e = request.command.emplace<Expunge>();
      if (!body.space()) return SyntaxError{request.tag, body.error()};
      auto set = body.sequence_set();
      if (!set) return SyntaxError{request.tag, body.error()};
      e.uids = std::move(*set);
    } else if (!entry.parse(body, request.command)) {
      return SyntaxError{request.tag, body.error().empty() ? "Invalid arguments" : body.error()};
    }
    if (!body.finish()) return SyntaxError{request.tag, body.error()};
    return request;
  }
  return SyntaxError{request.tag, "Unknown command " + name};
}

}  // namespace roost::imap

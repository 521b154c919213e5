// The IMAP syntax library: command assembly with literals and their limits,
// typed parsing of every command, and the response writer.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <sstream>

#include "roost/imapd/context_updates.hpp"
#include "roost/imapd/imap_url.hpp"
#include "roost/imapd/syntax.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap {
namespace {

using namespace std::string_literals;

using Next = CommandReader::Next;

// Feeds a command given as its wire text: lines, and after each literal
// marker exactly the literal's bytes.
struct Fed {
  std::vector<Next> steps;
  RawCommand raw;
  std::string response;
};

Fed feed(std::string_view wire, SyntaxLimits limits = {}) {
  CommandReader reader(limits);
  Fed fed;
  while (!wire.empty()) {
    std::size_t eol = wire.find("\r\n");
    std::string_view line = wire.substr(0, eol);
    wire.remove_prefix(eol == std::string_view::npos ? wire.size() : eol + 2);
    Next next = reader.add_line(line);
    fed.steps.push_back(next);
    if (next == Next::literal || next == Next::discard) {
      std::size_t n = reader.literal().size;
      if (next == Next::literal) reader.add_literal(std::string(wire.substr(0, n)));
      if (!reader.response().empty()) fed.response = reader.response();
      wire.remove_prefix(std::min(n, wire.size()));
      continue;
    }
    if (next != Next::complete) {
      fed.response = reader.response();
      continue;
    }
    fed.raw = reader.take();
  }
  return fed;
}

Request parse_ok(std::string_view wire) {
  auto fed = feed(wire);
  auto parsed = parse_command(fed.raw);
  if (auto* e = std::get_if<SyntaxError>(&parsed)) {
    ADD_FAILURE() << wire << ": " << e->text;
    return {};
  }
  return std::get<Request>(parsed);
}

std::string parse_error(std::string_view wire) {
  auto parsed = parse_command(feed(wire).raw);
  if (auto* e = std::get_if<SyntaxError>(&parsed)) return e->text;
  ADD_FAILURE() << wire << " parsed";
  return {};
}

TEST(ImapReader, LiteralsSynchronizingAndNot) {
  auto fed = feed("a1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n");
  ASSERT_EQ(fed.steps.size(), 3u);
  EXPECT_EQ(fed.steps[0], Next::literal);
  EXPECT_EQ(fed.steps[1], Next::literal);
  EXPECT_EQ(fed.steps[2], Next::complete);
  auto r = parse_ok("a1 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n");
  auto& login = std::get<Login>(r.command);
  EXPECT_EQ(login.user, "alice");
  EXPECT_EQ(login.password, "secret");
}

TEST(ImapReader, OversizedLiteralsAreRefusedBeforeTheirBytes) {
  SyntaxLimits limits;
  limits.max_literal = 100;
  limits.max_append_literal = 1000;
  // A synchronizing literal: refused at once, no bytes follow (RFC 9051 §7.5).
  CommandReader reader(limits);
  EXPECT_EQ(reader.add_line("t LOGIN {101}"), Next::refused);
  EXPECT_EQ(reader.response(), "t BAD [TOOBIG] Literal too large\r\n");
  // APPEND over APPENDLIMIT: NO [TOOBIG] (RFC 7889 §4).
  EXPECT_EQ(reader.add_line("t2 APPEND INBOX {1001}"), Next::refused);
  EXPECT_EQ(reader.response(), "t2 NO [TOOBIG] Message too large\r\n");
  // A non-synchronizing one is already on its way: its bytes are dropped,
  // and so is the rest of the command.
  // Over what may be dropped, too: the connection ends (RFC 7888 §4 choice 2).
  EXPECT_EQ(reader.add_line("t3 APPEND INBOX {1001+}"), Next::close);
  EXPECT_EQ(reader.response(), "t3 BAD [TOOBIG] Literal too large\r\n* BYE [TOOBIG] Literal too large\r\n");
  CommandReader second(limits);
  EXPECT_EQ(second.add_line("t4 LOGIN {200+}"), Next::discard);
  EXPECT_EQ(second.response(), "t4 BAD [TOOBIG] Literal too large\r\n");
  EXPECT_EQ(second.add_line(" {3+}"), Next::discard);
  EXPECT_EQ(second.response(), "");
  EXPECT_EQ(second.add_line(""), Next::refused);
  EXPECT_EQ(second.add_line("t5 NOOP"), Next::complete);
  EXPECT_EQ(second.take().text, "t5 NOOP");
}

TEST(ImapReader, LiteralMinusLimitsNonSynchronizingLiterals) {
  SyntaxLimits limits;
  limits.literal_minus = true;
  CommandReader reader(limits);
  // RFC 7888 §5: over 4096 bytes must be synchronizing; APPEND gets BAD [TOOBIG].
  EXPECT_EQ(reader.add_line("a APPEND INBOX {5000+}"), Next::discard);
  EXPECT_EQ(reader.response(), "a BAD [TOOBIG] Literal too large\r\n");
  CommandReader fine(limits);
  EXPECT_EQ(fine.add_line("a APPEND INBOX {5000}"), Next::literal);
  EXPECT_TRUE(fine.literal().synchronizing);
}

TEST(ImapReader, CommandTooLong) {
  SyntaxLimits limits;
  limits.max_command = 64;
  CommandReader reader(limits);
  EXPECT_EQ(reader.add_line("x SEARCH " + std::string(100, 'A')), Next::refused);
  EXPECT_EQ(reader.response(), "x BAD [TOOBIG] Command too long\r\n");
}

TEST(ImapParse, TagsAndCommandNames) {
  EXPECT_EQ(parse_ok("A001 capability").tag, "A001");
  EXPECT_TRUE(std::holds_alternative<Noop>(parse_ok("x NOOP").command));
  auto bad = parse_command(RawCommand{"+tag NOOP", {}});
  EXPECT_EQ(std::get<SyntaxError>(bad).tag, "");
  EXPECT_EQ(parse_error("a FROB"), "Unknown command FROB");
  EXPECT_EQ(parse_error("a NOOP extra"), "Unexpected characters at the end of the command");
  EXPECT_EQ(parse_error("a UID NOOP"), "UID NOOP is not a command");
  EXPECT_EQ(parse_error("a"), "Missing command");
}

TEST(ImapParse, StringsAndEscapes) {
  auto r = parse_ok("a LOGIN \"al\\\"ice\" \"p\\\\w\"");
  EXPECT_EQ(std::get<Login>(r.command).user, "al\"ice");
  EXPECT_EQ(std::get<Login>(r.command).password, "p\\w");
  EXPECT_EQ(parse_error("a LOGIN \"bad\\x\" y"), "Only \\\" and \\\\ may be escaped in a quoted string");
  EXPECT_EQ(parse_error("a LOGIN \"open"), "Unterminated quoted string");
  EXPECT_EQ(parse_error("a LOGIN alice"), "Missing arguments");
}

TEST(ImapParse, SequenceSets) {
  EXPECT_EQ(parse_error("a FETCH 0 FLAGS"), "Zero is not a valid number here");
  EXPECT_EQ(parse_error("a FETCH 1,$ FLAGS"), "Invalid sequence set");
  auto r = parse_ok("a UID FETCH 1:3,7,*:5 FLAGS");
  EXPECT_TRUE(r.uid);
  auto& f = std::get<Fetch>(r.command);
  ASSERT_EQ(f.set.ranges.size(), 3u);
  EXPECT_EQ(f.set.ranges[0].first, 1u);
  EXPECT_EQ(f.set.ranges[0].last, 3u);
  EXPECT_EQ(f.set.ranges[2].first, kStar);
  EXPECT_EQ(f.set.ranges[2].last, 5u);
  EXPECT_TRUE(std::get<Fetch>(parse_ok("a FETCH $ UID").command).set.saved);
}

TEST(ImapParse, FetchItemsAndSections) {
  auto r = parse_ok(
      "a FETCH 1 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<0.100> BODY[2.MIME] BODY[] "
      "BINARY.PEEK[1]<5.10> BINARY.SIZE[2] RFC822.SIZE PREVIEW (LAZY) SAVEDATE BODY[TEXT] BODY)");
  auto& items = std::get<Fetch>(r.command).items;
  ASSERT_EQ(items.size(), 11u);
  EXPECT_EQ(items[1].kind, FetchItem::Kind::body_section);
  EXPECT_TRUE(items[1].peek);
  EXPECT_EQ(items[1].section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(items[1].section.text, Section::Text::header_fields);
  EXPECT_EQ(items[1].section.fields, (std::vector<std::string>{"From", "To"}));
  EXPECT_EQ(items[1].partial->offset, 0u);
  EXPECT_EQ(items[1].partial->length, 100u);
  EXPECT_EQ(items[2].section.text, Section::Text::mime);
  EXPECT_TRUE(items[3].section.part.empty());
  EXPECT_EQ(items[4].kind, FetchItem::Kind::binary);
  EXPECT_EQ(items[4].partial->offset, 5u);
  EXPECT_EQ(items[5].kind, FetchItem::Kind::binary_size);
  EXPECT_TRUE(items[7].lazy);
  EXPECT_EQ(items[9].section.text, Section::Text::text);
  EXPECT_EQ(items[10].kind, FetchItem::Kind::body);
  EXPECT_EQ(std::get<Fetch>(parse_ok("a FETCH 1:* ALL").command).items.size(), 4u);
  EXPECT_EQ(std::get<Fetch>(parse_ok("a FETCH 1 FULL").command).items.size(), 5u);
  EXPECT_EQ(parse_error("a FETCH 1 (BODY[MIME])"), "Invalid section");
  EXPECT_EQ(parse_error("a FETCH 1 BINARY[1.TEXT]"), "A BINARY section is part numbers only");
  EXPECT_EQ(parse_error("a FETCH 1 BODY.PEEK"), "BODY.PEEK needs a section");
  EXPECT_EQ(parse_error("a FETCH 1 (FLAGS"), "Expected ')'");
  EXPECT_EQ(parse_error("a FETCH 1 BOGUS"), "Unknown fetch item BOGUS");
}

TEST(ImapParse, SearchKeys) {
  auto r = parse_ok(
      "a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM alice (SUBJECT \"caf\xc3\xa9\" UNSEEN) "
      "NOT 1:5 SINCE 1-Feb-2024 HEADER X-Spam yes LARGER 1000 UID 7:* KEYWORD $Junk");
  auto& s = std::get<Search>(r.command);
  EXPECT_EQ(s.charset, "UTF-8");
  ASSERT_TRUE(s.returns);
  EXPECT_EQ(s.returns->options.size(), 2u);
  ASSERT_EQ(s.key.children.size(), 7u);
  const auto& o = s.key.children[0];
  EXPECT_EQ(o.kind, SearchNode::Kind::or_);
  EXPECT_EQ(o.children[0].field, "From");
  EXPECT_EQ(o.children[1].kind, SearchNode::Kind::and_);
  EXPECT_EQ(o.children[1].children[0].text, "caf\xc3\xa9");
  EXPECT_EQ(s.key.children[1].kind, SearchNode::Kind::not_);
  EXPECT_EQ(s.key.children[1].children[0].kind, SearchNode::Kind::sequence);
  EXPECT_EQ(s.key.children[2].day, 19754);  // 2024-02-01
  EXPECT_EQ(s.key.children[3].field, "X-Spam");
  EXPECT_EQ(s.key.children[4].number, 1000u);
  EXPECT_EQ(s.key.children[5].kind, SearchNode::Kind::uid);
  EXPECT_EQ(parse_error("a SEARCH SINCE 30-Feb-2024"), "Invalid date (expected d-Mon-yyyy)");
  EXPECT_EQ(parse_error("a SEARCH FROBNICATE"), "Unknown search key FROBNICATE");
  // RFC 5032 WITHIN.
  auto within = std::get<Search>(parse_ok("a SEARCH YOUNGER 3600 OLDER 60").command);
  EXPECT_EQ(within.key.children[0].kind, SearchNode::Kind::younger);
  EXPECT_EQ(within.key.children[0].number, 3600u);
  EXPECT_EQ(within.key.children[1].kind, SearchNode::Kind::older);
  EXPECT_EQ(parse_error("a SEARCH OLDER 0"), "An interval is at least one second");
  EXPECT_EQ(parse_error("a SEARCH"), "Missing arguments");
  // RFC 9394 PARTIAL: as written, either sign, never with ALL.
  auto partial = std::get<Search>(parse_ok("a UID SEARCH RETURN (PARTIAL -1:-100 COUNT) UNDELETED").command);
  ASSERT_TRUE(partial.returns && partial.returns->partial);
  EXPECT_EQ(partial.returns->partial->first, -1);
  EXPECT_EQ(partial.returns->partial->last, -100);
  EXPECT_EQ(partial.returns->options, (std::vector<SearchReturn>{SearchReturn::partial, SearchReturn::count}));
  EXPECT_EQ(parse_error("a SEARCH RETURN (PARTIAL 1:-5) ALL"), "Both ends of a PARTIAL range have the same sign");
  EXPECT_EQ(parse_error("a SEARCH RETURN (PARTIAL 1:5 ALL) ALL"), "PARTIAL and ALL exclude each other");
  EXPECT_EQ(parse_error("a SEARCH RETURN (PARTIAL 0:5) ALL"), "Zero is not a valid number here");
  // RFC 5465 §7: UPDATE with the FETCH attributes of new results, then more options.
  auto update = std::get<Search>(parse_ok("a SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER]) MIN) FROM boss").command);
  ASSERT_TRUE(update.returns);
  EXPECT_EQ(update.returns->options,
            (std::vector<SearchReturn>{SearchReturn::count, SearchReturn::update, SearchReturn::min}));
  ASSERT_EQ(update.returns->update_fetch.size(), 2u);
  EXPECT_EQ(update.returns->update_fetch[0].kind, FetchItem::Kind::uid);
  EXPECT_EQ(update.returns->update_fetch[1].kind, FetchItem::Kind::body_section);
  EXPECT_TRUE(update.returns->update_fetch[1].peek);
  EXPECT_TRUE(std::get<Search>(parse_ok("a SEARCH RETURN (UPDATE COUNT) ALL").command).returns->update_fetch.empty());
  EXPECT_EQ(parse_error("a SEARCH RETURN (UPDATE ) ALL"), "Expected a return option");
  EXPECT_EQ(parse_error("a SEARCH RETURN (UPDATE ()) ALL"), "Expected a fetch item");
  auto fetch = std::get<Fetch>(parse_ok("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 PARTIAL 500:400)").command);
  ASSERT_TRUE(fetch.partial);
  EXPECT_EQ(fetch.partial->first, 500);
  EXPECT_EQ(fetch.changed_since, 5u);
  std::string deep = "a SEARCH " + std::string(40, '(') + "ALL" + std::string(40, ')');
  EXPECT_EQ(parse_error(deep), "Too deeply nested");
}

// RFC 5256 §5: charset is required; RFC 5957 adds DISPLAYFROM/DISPLAYTO.
TEST(ImapParse, SortAndThread) {
  auto r = parse_ok("a UID SORT (REVERSE DATE DISPLAYFROM) UTF-8 UNSEEN SINCE 1-Jan-2024");
  EXPECT_TRUE(r.uid);
  auto& s = std::get<Sort>(r.command);
  ASSERT_EQ(s.criteria.size(), 2u);
  EXPECT_TRUE(s.criteria[0].reverse);
  EXPECT_EQ(s.criteria[0].key, SortKey::date);
  EXPECT_EQ(s.criteria[1].key, SortKey::display_from);
  EXPECT_FALSE(s.returns);
  // ESORT (RFC 5267 §3.3's example).
  auto e = std::get<Sort>(parse_ok("E01 UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk").command);
  ASSERT_TRUE(e.returns);
  EXPECT_TRUE(e.returns->options.empty());
  e = std::get<Sort>(parse_ok("a SORT RETURN (MIN COUNT) (DATE) UTF-8 ALL").command);
  EXPECT_EQ(e.returns->options, (std::vector<SearchReturn>{SearchReturn::min, SearchReturn::count}));
  EXPECT_EQ(parse_error("a SORT RETURN (NEXT) (DATE) UTF-8 ALL"), "Unknown return option NEXT");
  EXPECT_EQ(s.charset, "UTF-8");
  EXPECT_EQ(s.key.children.size(), 2u);
  auto t = std::get<Thread>(parse_ok("a THREAD REFERENCES US-ASCII ALL").command);
  EXPECT_EQ(t.algorithm, ThreadAlgorithm::references);
  EXPECT_EQ(parse_error("a SORT (SUBJECT) ALL"), "Missing arguments");
  EXPECT_EQ(parse_error("a SORT SUBJECT UTF-8 ALL"), "Expected sort criteria");
  EXPECT_EQ(parse_error("a SORT (REVERSE) UTF-8 ALL"), "Expected a single space");
  EXPECT_EQ(parse_error("a THREAD X UTF-8 ALL"), "Unknown threading algorithm X");
}

TEST(ImapParse, StoreCopyMoveExpunge) {
  auto s = std::get<Store>(parse_ok("a STORE 1:2 +FLAGS.SILENT (\\Seen $Forwarded)").command);
  EXPECT_EQ(s.mode, StoreMode::add);
  EXPECT_TRUE(s.silent);
  EXPECT_EQ(s.flags, (std::vector<std::string>{"\\Seen", "$Forwarded"}));
  s = std::get<Store>(parse_ok("a STORE 1 FLAGS \\Deleted \\Seen").command);
  EXPECT_EQ(s.mode, StoreMode::replace);
  EXPECT_EQ(s.flags.size(), 2u);
  EXPECT_EQ(parse_error("a STORE 1 LABELS x"), "Expected FLAGS, +FLAGS or -FLAGS");
  auto m = std::get<Copy>(parse_ok("a UID MOVE 4:9 \"Sent Items\"").command);
  EXPECT_TRUE(m.move);
  EXPECT_EQ(m.mailbox, "Sent Items");
  auto e = parse_ok("a UID EXPUNGE 3:5");
  EXPECT_TRUE(std::get<Expunge>(e.command).uids);
  EXPECT_FALSE(std::get<Expunge>(parse_ok("a EXPUNGE").command).uids);
}

// RFC 7162 §3.1: the CONDSTORE modifiers, item, key and parameter.
TEST(ImapParse, CondstoreForms) {
  auto st = std::get<Store>(parse_ok("a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)").command);
  EXPECT_EQ(st.unchanged_since, 320162338u);
  EXPECT_EQ(st.mode, StoreMode::add);
  EXPECT_FALSE(std::get<Store>(parse_ok("a STORE 1 FLAGS \\Seen").command).unchanged_since);
  auto f = std::get<Fetch>(parse_ok("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)").command);
  EXPECT_EQ(f.changed_since, 12345u);
  f = std::get<Fetch>(parse_ok("a FETCH 1:3 MODSEQ").command);
  ASSERT_EQ(f.items.size(), 1u);
  EXPECT_EQ(f.items[0].kind, FetchItem::Kind::modseq);
  f = std::get<Fetch>(parse_ok("a FETCH 1 FAST (changedsince 0)").command);
  EXPECT_EQ(f.changed_since, 0u);
  EXPECT_EQ(f.items.size(), 3u);
  auto search = std::get<Search>(parse_ok("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338").command);
  ASSERT_EQ(search.key.children.size(), 1u);
  EXPECT_EQ(search.key.children[0].kind, SearchNode::Kind::modseq);
  EXPECT_EQ(search.key.children[0].number, 620162338u);
  EXPECT_EQ(std::get<Search>(parse_ok("a SEARCH OR NOT MODSEQ 720162338 LARGER 50000").command).key.children[0].kind,
            SearchNode::Kind::or_);
  EXPECT_TRUE(std::get<Select>(parse_ok("A142 SELECT INBOX (CONDSTORE)").command).condstore);
  EXPECT_FALSE(std::get<Select>(parse_ok("a EXAMINE INBOX ()").command).condstore);
  auto status = std::get<Status>(parse_ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)").command);
  EXPECT_EQ(status.items.back(), StatusItem::highestmodseq);
  EXPECT_EQ(parse_error("a SELECT INBOX (CONDSTORE CONDSTORE)"), "CONDSTORE is given twice");
  EXPECT_EQ(parse_error("a SELECT INBOX (QUICK)"), "Unknown SELECT parameter QUICK");
  EXPECT_EQ(parse_error("a FETCH 1 FLAGS (VANISHED)"), "VANISHED needs CHANGEDSINCE");
  EXPECT_EQ(parse_error("a FETCH 1 FLAGS (SOON)"), "Expected (CHANGEDSINCE n [VANISHED]) or (PARTIAL range)");
  f = std::get<Fetch>(parse_ok("a UID FETCH 300:500 (FLAGS) (VANISHED CHANGEDSINCE 12345)").command);
  EXPECT_TRUE(f.vanished);
  EXPECT_EQ(f.changed_since, 12345u);
  // RFC 7162 §3.2.5.2's example.
  auto sel = std::get<Select>(parse_ok("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
                                       "(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,"
                                       "29982,29985,29988,29991,29994,29997)))").command);
  ASSERT_TRUE(sel.qresync);
  EXPECT_EQ(sel.qresync->uidvalidity, 67890007u);
  EXPECT_EQ(sel.qresync->modseq, 90060115194045000u);
  ASSERT_TRUE(sel.qresync->known_uids);
  ASSERT_TRUE(sel.qresync->sequence_match);
  EXPECT_EQ(sel.qresync->sequence_match->first.ranges.size(), 4u);
  sel = std::get<Select>(parse_ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000))").command);
  EXPECT_FALSE(sel.qresync->known_uids);
  sel = std::get<Select>(parse_ok("A02 EXAMINE INBOX (QRESYNC (1 2 (1 5)))").command);
  EXPECT_FALSE(sel.qresync->known_uids);
  EXPECT_TRUE(sel.qresync->sequence_match);
  EXPECT_EQ(parse_error("a SELECT INBOX (QRESYNC (1 0))"), "A mod-sequence is positive");
  EXPECT_EQ(parse_error("a STORE 1 (NOTHING 1) FLAGS x"), "Expected (UNCHANGEDSINCE n)");
  EXPECT_EQ(parse_error("a SEARCH MODSEQ \"/flags/x\" mine 1"), "Expected priv, shared or all");
}

TEST(ImapParse, ListForms) {
  auto l = std::get<List>(parse_ok("a LIST \"\" *").command);
  EXPECT_FALSE(l.extended);
  EXPECT_EQ(l.patterns, (std::vector<std::string>{"*"}));
  // RFC 5258 §5 examples.
  l = std::get<List>(parse_ok("A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" \"Other/*\") "
                              "RETURN (CHILDREN STATUS (MESSAGES UNSEEN))").command);
  EXPECT_TRUE(l.extended);
  EXPECT_EQ(l.selection, (std::vector<std::string>{"SUBSCRIBED", "RECURSIVEMATCH"}));
  EXPECT_EQ(l.patterns.size(), 2u);
  EXPECT_EQ(l.returns, (std::vector<std::string>{"CHILDREN", "STATUS"}));
  EXPECT_EQ(l.status.size(), 2u);
  EXPECT_EQ(std::get<List>(parse_ok("a LSUB \"\" %").command).form, List::Form::lsub);
}

TEST(ImapParse, AppendWithFlagsDateAndMultiappend) {
  auto a = std::get<Append>(
      parse_ok("a APPEND Drafts (\\Draft) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello ~{3}\r\nb\0c\r\n"s).command);
  EXPECT_EQ(a.mailbox, "Drafts");
  ASSERT_EQ(a.messages.size(), 2u);
  EXPECT_EQ(a.messages[0].flags, (std::vector<std::string>{"\\Draft"}));
  EXPECT_EQ(*a.messages[0].internal_date, 760686745);  // RFC 3501 §6.3.11's example date
  EXPECT_EQ(a.messages[0].data, "hello");
  EXPECT_TRUE(a.messages[1].binary);
  EXPECT_EQ(a.messages[1].data, std::string("b\0c", 3));
  EXPECT_EQ(parse_error("a APPEND INBOX \"31-Feb-2020 00:00:00 +0000\" {1}\r\nx\r\n"),
            "Invalid date-time (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")");
  EXPECT_EQ(parse_error("a LOGIN ~{1}\r\nx y\r\n"), "A literal8 is not allowed here");
}

TEST(ImapParse, ReplaceAndUidReplace) {
  // RFC 8508 §6: "REPLACE" SP seq-number SP mailbox append-message.
  auto r = parse_ok("a REPLACE 4 Drafts (\\Seen \\Draft) {5}\r\nhello\r\n");
  EXPECT_FALSE(r.uid);
  auto rp = std::get<Replace>(r.command);
  EXPECT_EQ(rp.number, 4u);
  EXPECT_EQ(rp.mailbox, "Drafts");
  EXPECT_EQ(rp.message.flags, (std::vector<std::string>{"\\Seen", "\\Draft"}));
  EXPECT_EQ(rp.message.data, "hello");
  r = parse_ok("a UID REPLACE 2000 \"Sent Items\" \" 7-Feb-1994 21:52:25 -0800\" ~{3}\r\nb\0c\r\n"s);
  EXPECT_TRUE(r.uid);
  rp = std::get<Replace>(r.command);
  EXPECT_EQ(rp.number, 2000u);
  EXPECT_EQ(rp.mailbox, "Sent Items");
  EXPECT_EQ(*rp.message.internal_date, 760686745);
  EXPECT_TRUE(rp.message.binary);
  EXPECT_EQ(parse_error("a REPLACE 0 Drafts {1}\r\nx\r\n"), "Zero is not a valid number here");
  EXPECT_EQ(parse_error("a REPLACE 1:2 Drafts {1}\r\nx\r\n"), "Expected a single space");
  EXPECT_EQ(parse_error("a REPLACE 1 Drafts {1}\r\nx {1}\r\ny\r\n"), "Unexpected characters at the end of the command");
}

TEST(ImapParse, Metadata) {
  // RFC 5464 §5: options before the mailbox, and where §4.2.1's example puts them.
  auto g = std::get<GetMetadata>(parse_ok("a GETMETADATA (MAXSIZE 1024 DEPTH infinity) \"\" /shared/comment").command);
  EXPECT_EQ(g.mailbox, "");
  EXPECT_EQ(*g.max_size, 1024u);
  EXPECT_EQ(g.depth, MetadataDepth::infinity);
  EXPECT_EQ(g.entries, std::vector<std::string>{"/shared/comment"});
  g = std::get<GetMetadata>(parse_ok("a GETMETADATA INBOX (DEPTH 1) (/private/a \"/shared/b\")").command);
  EXPECT_EQ(g.depth, MetadataDepth::one);
  EXPECT_EQ(g.entries, (std::vector<std::string>{"/private/a", "/shared/b"}));
  auto s = std::get<SetMetadata>(parse_ok("a SETMETADATA INBOX (/private/a NIL /shared/b {2}\r\nxy /private/c ~{1}\r\n\0)"s).command);
  ASSERT_EQ(s.entries.size(), 3u);
  EXPECT_FALSE(s.entries[0].second);
  EXPECT_EQ(*s.entries[1].second, "xy");
  EXPECT_EQ(*s.entries[2].second, std::string("\0", 1));
  EXPECT_EQ(parse_error("a GETMETADATA INBOX \"/private/a*\""), "Invalid entry name /private/a*");
  EXPECT_EQ(parse_error("a GETMETADATA INBOX /shared/"), "Invalid entry name /shared/");
  EXPECT_EQ(parse_error("a SETMETADATA INBOX (/shared/vendor/x \"v\")"), "Invalid entry name /shared/vendor/x");
  EXPECT_EQ(parse_error("a GETMETADATA (DEPTH 2) INBOX /private/a"), "DEPTH is 0, 1 or infinity");
  EXPECT_EQ(parse_error("a GETMETADATA (SIZE 2) INBOX /private/a"), "Unknown GETMETADATA option SIZE");
}

TEST(ImapParse, Utf8AppendAndQuotedStrings) {
  // RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")".
  auto a = std::get<Append>(parse_ok("a APPEND INBOX (\\Seen) UTF8 (~{3}\r\nabc)").command);
  ASSERT_EQ(a.messages.size(), 1u);
  EXPECT_TRUE(a.messages[0].utf8);
  EXPECT_EQ(a.messages[0].data, "abc");
  EXPECT_EQ(parse_error("a APPEND INBOX UTF8 ({3}\r\nabc)"), "UTF8 takes a literal8");
  EXPECT_EQ(parse_error("a APPEND INBOX UTF8 (~{3}\r\nabc x"), "Expected ')'");
  // §3: UTF-8 in quoted strings, and nothing else with the high bit set.
  EXPECT_EQ(std::get<Create>(parse_ok("a CREATE \"K\xc3\xb6ln\"").command).mailbox, "K\xc3\xb6ln");
  EXPECT_EQ(parse_error("a CREATE \"K\xf6ln\""), "Invalid UTF-8 in a quoted string");
  EXPECT_EQ(parse_error("a CREATE \"\xc0\xaf\""), "Invalid UTF-8 in a quoted string");
}

// The pairs of an ADDTO or REMOVEFROM line: (position, numbers in order).
std::vector<std::pair<std::size_t, std::vector<std::uint32_t>>> context_pairs(const std::string& line) {
  std::vector<std::pair<std::size_t, std::vector<std::uint32_t>>> out;
  if (line.empty()) return out;
  std::istringstream in(line.substr(line.rfind('(') + 1, line.rfind(')') - line.rfind('(') - 1));
  std::size_t position;
  std::string set;
  while (in >> position >> set) {
    std::vector<std::uint32_t> numbers;
    std::istringstream parts(set);
    std::string part;
    while (std::getline(parts, part, ',')) {
      auto colon = part.find(':');
      std::uint32_t a = std::stoul(part.substr(0, colon));
      std::uint32_t b = colon == std::string::npos ? a : std::stoul(part.substr(colon + 1));
      for (std::uint32_t n = a; n <= b; ++n) numbers.push_back(n);
    }
    out.emplace_back(position, std::move(numbers));
  }
  return out;
}

// RFC 5267 §4.3.3-4.3.4: a client applying the lines in order ends with the
// new results, whatever changed, for sorted and unsorted contexts.
TEST(ContextUpdates, ApplyingTheLinesGivesTheNewResults) {
  std::mt19937 random(5267);
  for (int round = 0; round < 500; ++round) {
    const bool sorted = round % 2 == 0;
    // A sort order fixed per UID (sort keys never change).
    auto key = [](std::uint32_t uid) { return (uid * 2654435761u) % 1000; };
    auto in_order = [&](std::vector<std::uint32_t> uids) {
      if (sorted) std::stable_sort(uids.begin(), uids.end(), [&](auto a, auto b) { return key(a) < key(b); });
      return uids;
    };
    std::vector<std::uint32_t> before, after;
    for (std::uint32_t uid = 1; uid <= 40; ++uid) {
      if (random() % 2) before.push_back(uid);
      if (random() % 2) after.push_back(uid);
    }
    before = in_order(before);
    after = in_order(after);
    std::vector<std::uint32_t> all(40);
    std::iota(all.begin(), all.end(), 1u);
    const auto lines = context_lines(ContextChange{"t", true, sorted, before, after, all, all});
    std::vector<std::uint32_t> client = before;
    for (const auto& [position, numbers] : context_pairs(lines.remove)) {
      if (position == 0) {
        for (auto n : numbers) std::erase(client, n);
      } else {
        ASSERT_LE(position - 1 + numbers.size(), client.size());
        for (std::size_t k = 0; k < numbers.size(); ++k) ASSERT_EQ(client[position - 1 + k], numbers[k]);
        client.erase(client.begin() + static_cast<std::ptrdiff_t>(position - 1),
                     client.begin() + static_cast<std::ptrdiff_t>(position - 1 + numbers.size()));
      }
    }
    for (const auto& [position, numbers] : context_pairs(lines.add)) {
      if (position == 0) {
        client.insert(client.end(), numbers.begin(), numbers.end());
        std::sort(client.begin(), client.end());
      } else {
        ASSERT_LE(position - 1, client.size());
        client.insert(client.begin() + static_cast<std::ptrdiff_t>(position - 1), numbers.begin(), numbers.end());
      }
    }
    ASSERT_EQ(client, after) << "round " << round << "\n" << lines.remove << lines.add;
  }
}

TEST(ContextUpdates, SequenceNumbersBeforeAndAfterTheChange) {
  // UIDs 1..5; 3 is expunged and 6 arrives. REMOVEFROM numbers in the old
  // mailbox, ADDTO in the new one.
  const std::vector<std::uint32_t> old_uids{1, 2, 3, 4, 5}, new_uids{1, 2, 4, 5, 6};
  const std::vector<std::uint32_t> before{5, 3, 1}, after{6, 5, 1};
  auto lines = context_lines(ContextChange{"s1", false, true, before, after, old_uids, new_uids});
  EXPECT_EQ(lines.remove, "* ESEARCH (TAG \"s1\") REMOVEFROM (2 3)\r\n");
  EXPECT_EQ(lines.add, "* ESEARCH (TAG \"s1\") ADDTO (1 5)\r\n");
  lines = context_lines(ContextChange{"s2", false, false, {1, 3, 5}, {1, 5, 6}, old_uids, new_uids});
  EXPECT_EQ(lines.remove, "* ESEARCH (TAG \"s2\") REMOVEFROM (0 3)\r\n");
  EXPECT_EQ(lines.add, "* ESEARCH (TAG \"s2\") ADDTO (0 5)\r\n");
  lines = context_lines(ContextChange{"s3", true, false, {1, 5}, {1, 5}, old_uids, new_uids});
  EXPECT_TRUE(lines.remove.empty() && lines.add.empty());
}

TEST(ImapParse, CatenateAndImapUrls) {
  // RFC 4469 §5: CATENATE (cat-part *(SP cat-part)), TEXT literal / URL astring.
  auto a = std::get<Append>(
      parse_ok("a APPEND Drafts (\\Seen) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" "
               "TEXT {3}\r\nab\n URL /Drafts/;UID=30)").command);
  ASSERT_EQ(a.messages.size(), 1u);
  const auto& parts = a.messages[0].catenate;
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(parts[0].url);
  EXPECT_FALSE(parts[1].url);
  EXPECT_EQ(parts[1].data, "ab\n");
  EXPECT_EQ(parts[2].data, "/Drafts/;UID=30");
  EXPECT_EQ(parse_error("a APPEND Drafts CATENATE ()"), "Expected TEXT, URL or UTF8 in CATENATE");

  // RFC 5092 §6 message and part URLs, relative to the session's server.
  auto url = parse_imap_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->mailbox, "Drafts");
  EXPECT_EQ(*url->uidvalidity, 385759045u);
  EXPECT_EQ(url->uid, 20u);
  EXPECT_EQ(url->section.part, std::vector<std::uint32_t>{1});
  EXPECT_EQ(url->section.text, Section::Text::mime);
  url = parse_imap_url("/Sent%20Items/;uid=7/;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)/;PARTIAL=10.20");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->mailbox, "Sent Items");
  EXPECT_FALSE(url->uidvalidity);
  EXPECT_EQ(url->section.text, Section::Text::header_fields);
  EXPECT_EQ(url->section.fields, (std::vector<std::string>{"SUBJECT", "FROM"}));
  EXPECT_EQ(url->partial->offset, 10u);
  EXPECT_EQ(url->partial->length, 20u);
  EXPECT_EQ(parse_imap_url("/INBOX/;UID=5/;PARTIAL=3")->partial->length, 0u);
  for (const char* bad : {"imap://u@h/INBOX/;UID=1", "INBOX/;UID=1", "/INBOX", "/INBOX/;UID=0", "/INBOX/;UID=x",
                          "/%zz/;UID=1", "/INBOX;FOO=1/;UID=1", "/INBOX/;UID=1/;SECTION=1.BOGUS",
                          "/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=2/;SECTION=1", "//h/INBOX/;UID=1"})
    EXPECT_FALSE(parse_imap_url(bad)) << bad;
}

TEST(ImapParse, MultimailboxEsearch) {
  // RFC 7377 §2: "ESEARCH" [SP "IN" SP "(" filters ")"] search.
  auto m = std::get<MultiSearch>(
      parse_ok("a ESEARCH IN (mailboxes (INBOX \"Sent Items\") subtree-one Lists selected) RETURN (COUNT) UNSEEN").command);
  ASSERT_EQ(m.sources.size(), 3u);
  EXPECT_EQ(m.sources[0].kind, MailboxFilter::Kind::mailboxes);
  EXPECT_EQ(m.sources[0].mailboxes, (std::vector<std::string>{"INBOX", "Sent Items"}));
  EXPECT_EQ(m.sources[1].kind, MailboxFilter::Kind::subtree_one);
  EXPECT_EQ(m.sources[1].mailboxes, std::vector<std::string>{"Lists"});
  EXPECT_EQ(m.sources[2].kind, MailboxFilter::Kind::selected);
  ASSERT_TRUE(m.search.returns);
  EXPECT_EQ(m.search.returns->options, std::vector<SearchReturn>{SearchReturn::count});
  m = std::get<MultiSearch>(parse_ok("a ESEARCH CHARSET UTF-8 SUBJECT x").command);
  EXPECT_TRUE(m.sources.empty());
  EXPECT_EQ(m.search.charset, "UTF-8");
  EXPECT_EQ(parse_error("a ESEARCH IN (everywhere) ALL"), "Unknown mailbox filter EVERYWHERE");
  EXPECT_EQ(parse_error("a ESEARCH IN (personal (DEPTH 1)) ALL"), "No scope options are known");
  EXPECT_EQ(parse_error("a ESEARCH IN () ALL"), "Expected a mailbox filter");
}

TEST(ImapParse, Notify) {
  // RFC 5465 §8, with §3.1's example.
  // The example writes events without parentheses; taken as written.
  auto n = std::get<Notify>(parse_ok("b notify set status (selected MessageNew (uid body.peek[header.fields (from to "
                                     "subject)]) MessageExpunge) (subtree Lists MessageNew MessageExpunge)")
                                .command);
  ASSERT_EQ(n.groups.size(), 2u);
  EXPECT_EQ(n.groups[0].new_message_items.size(), 2u);
  EXPECT_EQ(n.groups[0].events.size(), 2u);
  EXPECT_EQ(n.groups[1].filter.mailboxes, std::vector<std::string>{"Lists"});
  EXPECT_EQ(n.groups[1].events.size(), 2u);
  n = std::get<Notify>(parse_ok("b NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to "
                                "subject)]) MessageExpunge)) (subtree (Lists Other) (MessageNew MessageExpunge "
                                "FlagChange)) (personal NONE) (mailboxes INBOX (SubscriptionChange Frobnicate))")
                           .command);
  EXPECT_FALSE(n.none);
  EXPECT_TRUE(n.status);
  ASSERT_EQ(n.groups.size(), 4u);
  EXPECT_EQ(n.groups[0].filter.kind, MailboxFilter::Kind::selected);
  EXPECT_EQ(n.groups[0].events, (std::vector<NotifyEvent>{NotifyEvent::message_new, NotifyEvent::message_expunge}));
  ASSERT_EQ(n.groups[0].new_message_items.size(), 2u);
  EXPECT_EQ(n.groups[0].new_message_items[0].kind, FetchItem::Kind::uid);
  EXPECT_TRUE(n.groups[0].new_message_items[1].peek);
  EXPECT_EQ(n.groups[1].filter.kind, MailboxFilter::Kind::subtree);
  EXPECT_EQ(n.groups[1].filter.mailboxes, (std::vector<std::string>{"Lists", "Other"}));
  EXPECT_EQ(n.groups[1].events.size(), 3u);
  EXPECT_TRUE(n.groups[2].events.empty());
  EXPECT_EQ(n.groups[3].events, std::vector<NotifyEvent>{NotifyEvent::subscription_change});
  EXPECT_EQ(n.groups[3].unknown_events, std::vector<std::string>{"Frobnicate"});
  EXPECT_TRUE(std::get<Notify>(parse_ok("a notify none").command).none);
  n = std::get<Notify>(parse_ok("a NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (inboxes (MessageNew "
                                "MessageExpunge)) (subscribed (MailboxName MailboxMetadataChange ServerMetadataChange))")
                           .command);
  EXPECT_FALSE(n.status);
  EXPECT_EQ(n.groups[0].filter.kind, MailboxFilter::Kind::selected_delayed);
  EXPECT_EQ(n.groups[2].events.back(), NotifyEvent::server_metadata_change);

  // §5 and §6.1: what makes a NOTIFY BAD.
  EXPECT_EQ(parse_error("a NOTIFY SET (personal \"MailboxName\")"), "Expected an atom");
  // The example's "(subtree Lists MessageNew)" alone breaks §5's rule.
  EXPECT_EQ(parse_error("b notify set (subtree Lists MessageNew)"),
            "MessageNew and MessageExpunge go together (RFC 5465 §5)");
  EXPECT_EQ(parse_error("a NOTIFY SET (subtree Lists (MessageNew))"),
            "MessageNew and MessageExpunge go together (RFC 5465 §5)");
  EXPECT_EQ(parse_error("a NOTIFY SET (personal (MessageExpunge))"),
            "MessageNew and MessageExpunge go together (RFC 5465 §5)");
  EXPECT_EQ(parse_error("a NOTIFY SET (personal (AnnotationChange))"),
            "FlagChange and AnnotationChange need MessageNew and MessageExpunge (RFC 5465 §5)");
  EXPECT_EQ(parse_error("a NOTIFY SET (selected (SubscriptionChange))"),
            "SELECTED and SELECTED-DELAYED take message events only (RFC 5465 §6.1)");
  EXPECT_EQ(parse_error("a NOTIFY SET (selected NONE) (selected NONE)"), "SELECTED or SELECTED-DELAYED may appear once");
  EXPECT_EQ(parse_error("a NOTIFY SET (inboxes (MessageNew (FLAGS) MessageExpunge))"),
            "Fetch attributes go with SELECTED or SELECTED-DELAYED only");
  EXPECT_EQ(parse_error("a NOTIFY SET (subtree-one INBOX NONE)"), "Unknown mailbox filter SUBTREE-ONE");
  EXPECT_EQ(parse_error("a NOTIFY SET (selected (MessageNew \"x\" MessageExpunge))"),
            "Expected MessageNew's fetch attributes");
  // An unknown event is syntax all right (event-ext): BADEVENT is the handler's.
  EXPECT_EQ(std::get<Notify>(parse_ok("a NOTIFY SET (selected (MessageNew FOO MessageExpunge))").command)
                .groups[0].unknown_events, std::vector<std::string>{"FOO"});
  EXPECT_EQ(parse_error("a NOTIFY SET"), "Missing arguments");
  EXPECT_EQ(parse_error("a NOTIFY SET STATUS personal"), "Expected an event group");
  EXPECT_EQ(parse_error("a NOTIFY ALL"), "Expected NOTIFY SET or NOTIFY NONE");
  EXPECT_FALSE(parse_error("a NOTIFY SET (selected (MessageNew (BOGUS) MessageExpunge))").empty());
  EXPECT_FALSE(parse_error("a NOTIFY SET (personal (MessageNew MessageExpunge)").empty());
  EXPECT_FALSE(parse_error("a NOTIFY NONE extra").empty());
}

TEST(ImapParse, FuzzyAndRelevancy) {
  // RFC 6203 §7: search-key =/ "FUZZY" SP search-key; RELEVANCY as a return
  // option and a sort key.
  auto sr = std::get<Search>(parse_ok("a SEARCH RETURN (RELEVANCY ALL) FUZZY (SUBJECT \"IMAP break\") FROM x").command);
  ASSERT_EQ(sr.key.children.size(), 2u);
  const auto& fuzzy = sr.key.children[0];
  EXPECT_EQ(fuzzy.kind, SearchNode::Kind::fuzzy);
  ASSERT_EQ(fuzzy.children.size(), 1u);
  EXPECT_EQ(fuzzy.children[0].kind, SearchNode::Kind::and_);
  EXPECT_EQ(sr.key.children[1].kind, SearchNode::Kind::header);
  EXPECT_EQ(sr.returns->options, (std::vector<SearchReturn>{SearchReturn::relevancy, SearchReturn::all}));
  auto so = std::get<Sort>(parse_ok("a SORT (REVERSE RELEVANCY DATE) UTF-8 FUZZY TEXT Helo").command);
  ASSERT_EQ(so.criteria.size(), 2u);
  EXPECT_EQ(so.criteria[0].key, SortKey::relevancy);
  EXPECT_TRUE(so.criteria[0].reverse);
  EXPECT_EQ(parse_error("a SEARCH FUZZY"), "Missing arguments");
}

TEST(ImapReader, ReplaceLiteralsFollowAppendLimit) {
  SyntaxLimits limits;
  limits.max_literal = 100;
  limits.max_append_literal = 1000;
  CommandReader reader(limits);
  EXPECT_EQ(reader.add_line("t UID REPLACE 7 Drafts {500}"), Next::literal);
  reader.take();
  EXPECT_EQ(reader.add_line("t2 replace 1 Drafts {1001}"), Next::refused);
  EXPECT_EQ(reader.response(), "t2 NO [TOOBIG] Message too large\r\n");
}

TEST(ImapParse, SessionCommands) {
  auto a = std::get<Authenticate>(parse_ok("a AUTHENTICATE plain AGFsaWNlAHNlY3JldA==").command);
  EXPECT_EQ(a.mechanism, "PLAIN");
  EXPECT_EQ(*a.initial, "AGFsaWNlAHNlY3JldA==");
  EXPECT_FALSE(std::get<Authenticate>(parse_ok("a AUTHENTICATE SCRAM-SHA-256").command).initial);
  auto e = std::get<Enable>(parse_ok("a ENABLE imap4rev2 UTF8=ACCEPT").command);
  EXPECT_EQ(e.capabilities, (std::vector<std::string>{"IMAP4REV2", "UTF8=ACCEPT"}));
  auto id = std::get<Id>(parse_ok("a ID (\"name\" \"imaplib\" \"version\" NIL)").command);
  ASSERT_TRUE(id.fields);
  EXPECT_FALSE((*id.fields)[1].second);
  EXPECT_FALSE(std::get<Id>(parse_ok("a ID NIL").command).fields);
  auto c = std::get<Create>(parse_ok("a CREATE Archive (USE (\\Archive))").command);
  EXPECT_EQ(c.uses, (std::vector<std::string>{"\\Archive"}));
  auto st = std::get<Status>(parse_ok("a STATUS INBOX (MESSAGES UIDNEXT SIZE DELETED)").command);
  EXPECT_EQ(st.items.size(), 4u);
  EXPECT_EQ(parse_error("a STATUS INBOX (MESSAGES BOGUS)"), "Unknown status item BOGUS");
  EXPECT_TRUE(std::get<Select>(parse_ok("a EXAMINE INBOX").command).read_only);
  auto q = std::get<SetQuota>(parse_ok("a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)").command);
  EXPECT_EQ(q.limits.size(), 2u);
}

TEST(ImapParse, SearchKeysNestNoDeeperThanParentheses) {
  // NOT, OR and FUZZY are levels of nesting as parentheses are, against one
  // bound (DESIGN invariant 8): 45,000 NOTs used to overflow the stack.
  std::string deep = "a SEARCH ";
  for (int i = 0; i < 45000; ++i) deep += "NOT ";
  EXPECT_EQ(parse_error(deep + "ALL"), "Too deeply nested");
  std::string ors = "a SEARCH ";
  for (int i = 0; i < 40; ++i) ors += "OR ALL ";
  EXPECT_EQ(parse_error(ors + "ALL"), "Too deeply nested");
  std::string mixed = "a SEARCH ";
  for (int i = 0; i < 17; ++i) mixed += "(FUZZY ";
  EXPECT_EQ(parse_error(mixed + "ALL" + std::string(17, ')')), "Too deeply nested");
  // Thirty levels are fine, and a flat list of any length adds none.
  std::string fine = "a SEARCH ";
  for (int i = 0; i < 30; ++i) fine += "NOT ";
  parse_ok(fine + "ALL");
  std::string wide = "a SEARCH";
  for (int i = 0; i < 5000; ++i) wide += " NOT SEEN";
  parse_ok(wide);
}

TEST(ImapParse, StarIsNotTheLargestNumber) {
  auto f = std::get<Fetch>(parse_ok("a FETCH 4:4294967295,*,4:* FLAGS").command);
  ASSERT_EQ(f.set.ranges.size(), 3u);
  EXPECT_EQ(f.set.ranges[0].last, 4294967295u);
  EXPECT_NE(f.set.ranges[0].last, kStar);
  EXPECT_EQ(f.set.ranges[1].first, kStar);
  EXPECT_EQ(f.set.ranges[2].last, kStar);
}

TEST(ImapReader, GateRefusesByNameBeforeAnyLiteral) {
  // Before login: the session's gate refuses every command but a few, on
  // its first line, so that nothing of it is read or parsed.
  const CommandReader::Gate before_login = [](std::string_view name) -> std::optional<std::string> {
    auto kind = command_kind(name);
    if (kind && (*kind == Command(std::in_place_type<Login>).index() || *kind == Command(std::in_place_type<Noop>).index()))
      return std::nullopt;
    return kind ? std::optional<std::string>("NO [CLIENTBUG] Log in first") : std::nullopt;
  };
  SyntaxLimits limits;
  limits.max_append_literal = 8192;
  CommandReader reader(limits, before_login);
  EXPECT_EQ(reader.add_line("a APPEND INBOX {52428800}"), Next::refused);
  EXPECT_EQ(reader.response(), "a NO [CLIENTBUG] Log in first\r\n");
  EXPECT_EQ(reader.add_line("b uid SEARCH NOT NOT {1}"), Next::refused);
  EXPECT_EQ(reader.response(), "b NO [CLIENTBUG] Log in first\r\n");
  // A small non-synchronizing literal on its way is dropped with the rest.
  EXPECT_EQ(reader.add_line("c SELECT {5+}"), Next::discard);
  EXPECT_EQ(reader.response(), "c NO [CLIENTBUG] Log in first\r\n");
  EXPECT_EQ(reader.add_line(""), Next::refused);
  // A big one ends the connection.
  EXPECT_EQ(reader.add_line("d APPEND INBOX {52428800+}"), Next::close);
  CommandReader login(limits, before_login);
  EXPECT_EQ(login.add_line("e LOGIN {5}"), Next::literal);
  // Command names map to what they make.
  EXPECT_EQ(command_kind("examine"), Command(std::in_place_type<Select>).index());
  EXPECT_EQ(command_kind("ESEARCH"), Command(std::in_place_type<MultiSearch>).index());
  EXPECT_FALSE(command_kind("BOGUS"));
}

TEST(ImapWriter, StringsChooseTheirForm) {
  std::string out;
  append_astring(out, "INBOX");
  out += ' ';
  append_astring(out, "Sent Items");
  out += ' ';
  append_astring(out, "nil");
  out += ' ';
  append_string(out, "caf\xc3\xa9");
  out += ' ';
  append_string(out, "caf\xc3\xa9", true);
  out += ' ';
  append_string(out, "a\r\nb");
  EXPECT_EQ(out, "INBOX \"Sent Items\" \"nil\" {5}\r\ncaf\xc3\xa9 \"caf\xc3\xa9\" {4}\r\na\r\nb");
  // No NUL in an ordinary literal (RFC 9051 §9); a literal8 keeps it.
  std::string literal;
  append_literal(literal, std::string_view("a\0b", 3), false);
  EXPECT_EQ(literal, "{3}\r\na\x80" "b");
  literal.clear();
  append_literal(literal, std::string_view("a\0b", 3), true);
  EXPECT_EQ(literal, std::string("~{3}\r\na\0b", 9));
  EXPECT_EQ(date_time(760686745), "\"08-Feb-1994 05:52:25 +0000\"");
  EXPECT_EQ(compact_set({1, 2, 3, 7, 9, 10}), "1:3,7,9:10");
  EXPECT_EQ(compact_set({}), "");
  EXPECT_EQ(compact_set({5, 3, 4, 4294967294u, 4294967295u}), "5,3:4,4294967294:4294967295");
  std::string numbers = "* SORT";
  append_numbers(numbers, {});
  EXPECT_EQ(numbers, "* SORT");
  append_numbers(numbers, {3, 1, 4294967295u, 10});
  EXPECT_EQ(numbers, "* SORT 3 1 4294967295 10");
}

}  // namespace
}  // namespace roost::imap

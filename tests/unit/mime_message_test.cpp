#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "imap_reader.hpp"
#include "roost/mime/address.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/message.hpp"

namespace roost::mime {
namespace {

std::string_view range(const Message& m, const Span& s) { return m.data.substr(s.begin, s.size()); }

std::vector<unsigned> path(std::string_view dotted) {
  std::vector<unsigned> out;
  std::size_t i = 0;
  while (i < dotted.size()) {
    std::size_t dot = dotted.find('.', i);
    if (dot == std::string_view::npos) dot = dotted.size();
    out.push_back(static_cast<unsigned>(std::stoul(std::string(dotted.substr(i, dot - i)))));
    i = dot + 1;
  }
  return out;
}

std::string type_of(const Part* p) {
  if (p == nullptr) return "(none)";
  std::string t = p->content_type.type + "/" + p->content_type.subtype;
  for (auto& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return t;
}

TEST(MimeMessage, HeaderAndBodySpansOfASimpleMessage) {
  std::string text = "Subject: hi\r\nFrom: a@b.example\r\n\r\nline 1\r\nline 2\r\n";
  auto m = parse(text);
  EXPECT_EQ(range(m, m.root.header), "Subject: hi\r\nFrom: a@b.example\r\n\r\n");
  EXPECT_EQ(range(m, m.root.body), "line 1\r\nline 2\r\n");
  EXPECT_EQ(m.root.body_lines, 2u);
  EXPECT_EQ(m.wire_size, text.size());
  ASSERT_EQ(m.header.fields.size(), 2u);
  EXPECT_EQ(m.header.fields[0].name, "Subject");
  EXPECT_EQ(m.header.fields[0].raw_value, " hi");
  EXPECT_TRUE(m.root.content_type.defaulted);
}

TEST(MimeMessage, BareLineFeedsCountAsCrlfOnTheWire) {
  auto m = parse("Subject: x\n\nbody\nmore");
  EXPECT_EQ(m.root.header.wire_size, 14u);  // "Subject: x\r\n\r\n"
  EXPECT_EQ(m.root.body.wire_size, 10u);    // "body\r\nmore"
  EXPECT_EQ(m.root.body_lines, 2u);         // the unterminated last line counts
  EXPECT_EQ(wire_size("Subject: x\n\nbody\nmore"), 24u);
  // A lone CR is sent as CRLF too; a CRLF split by the end of the header is not bare.
  EXPECT_EQ(wire_size("A: b\r\n\r\nx\ry\r"), parse("A: b\r\n\r\nx\ry\r").wire_size);
  EXPECT_EQ(wire_size("A: b\r\n\r\nx\ry\r"), 14u);
  EXPECT_EQ(wire_size("A: b\r\r\n\n"), parse("A: b\r\r\n\n").wire_size);
}

TEST(MimeMessage, FoldedFieldsAndLinesThatAreNotFields) {
  auto m = parse("From someone Tue May 10 11:28:07 2005\r\nSubject: a\r\n  folded\r\n\tline\r\n"
                 "not a field\r\nX: y\r\n\r\nbody\r\n");
  ASSERT_EQ(m.header.fields.size(), 2u);
  EXPECT_EQ(unfold(m.header.fields[0].raw_value), "a  folded\tline");
  EXPECT_EQ(m.header.fields[1].name, "X");
  EXPECT_EQ(range(m, m.root.body), "body\r\n");
  // No empty line at all: everything is header.
  auto headless = parse("Subject: only\r\nmore");
  EXPECT_EQ(headless.root.body.size(), 0u);
}

// RFC 3501 §6.4.5 (and RFC 9051 §6.4.5): the example of a complex message and
// the part each section number names.
TEST(MimeMessage, SectionNumbersOfTheRfcExample) {
  std::ifstream in(std::string(ROOST_SOURCE_DIR) + "/../shared/corpus/crymap/rfc3501_p56.eml",
                   std::ios::binary);
  ASSERT_TRUE(in);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  auto m = parse(text);
  const std::pair<const char*, const char*> table[] = {
      {"1", "TEXT/PLAIN"},        {"2", "APPLICATION/OCTET-STREAM"},
      {"3", "MESSAGE/RFC822"},    {"3.1", "TEXT/PLAIN"},
      {"3.2", "APPLICATION/OCTET-STREAM"},
      {"4", "MULTIPART/MIXED"},   {"4.1", "IMAGE/GIF"},
      {"4.2", "MESSAGE/RFC822"},  {"4.2.1", "TEXT/PLAIN"},
      {"4.2.2", "MULTIPART/ALTERNATIVE"},
      {"4.2.2.1", "TEXT/PLAIN"},  {"4.2.2.2", "TEXT/RICHTEXT"},
  };
  for (auto [section, type] : table) {
    EXPECT_EQ(type_of(find_part(m, path(section))), type) << section;
  }
  EXPECT_EQ(find_part(m, path("5")), nullptr);
  EXPECT_EQ(find_part(m, path("1.1")), nullptr);
  EXPECT_EQ(find_part(m, path("4.3")), nullptr);

  // BODY[1] is the part's content without the CRLF before the next boundary.
  EXPECT_EQ(range(m, find_part(m, path("1"))->body), "Part 1\r\n");
  EXPECT_EQ(range(m, find_part(m, path("1"))->header), "Content-Id: 1\r\nContent-Type: text/plain\r\n\r\n");
  // 3.HEADER is the header of the message inside part 3.
  const Part* three = find_part(m, path("3"));
  ASSERT_EQ(three->children.size(), 1u);
  EXPECT_EQ(range(m, three->children[0].header),
            "Subject: Part 3\r\nContent-Type: multipart/mixed; boundary=part3\r\n\r\n");
  EXPECT_EQ(range(m, find_part(m, path("3.2"))->body), "Part 3.2\r\n");
  EXPECT_EQ(range(m, find_part(m, path("4.2.2.2"))->body), "Part 4.2.2.2\r\n");
  EXPECT_EQ(m.wire_size, text.size());
}

TEST(MimeMessage, MultipartEdgeCases) {
  // Preamble and epilogue are not parts; whatever follows the boundary on
  // its line is ignored, so "--abc" is a delimiter of "ab" (boundaries may
  // not be prefixes of one another, RFC 2046 §5.1.1; Dovecot reads it so).
  auto m = parse(
      "Content-Type: multipart/mixed; boundary=\"ab\"\r\n\r\n"
      "preamble\r\n--ab  \r\n\r\none\r\n--abc\r\n\r\ntwo\r\n--ab\r\nContent-Type: text/html\r\n\r\n"
      "<p>three</p>\r\n--ab--\r\nepilogue\r\n");
  ASSERT_EQ(m.root.children.size(), 3u);
  EXPECT_EQ(range(m, m.root.children[0].body), "one");
  EXPECT_EQ(range(m, m.root.children[1].body), "two");
  EXPECT_EQ(range(m, m.root.children[2].body), "<p>three</p>");
  EXPECT_TRUE(m.root.children[2].content_type.is("text", "html"));

  // Empty parts: a delimiter right after a delimiter; the fields that follow
  // belong to the next part, not to the empty one.
  auto empty = parse("Content-Type: multipart/mixed; boundary=E\r\n\r\n--E\r\n--E\r\n"
                     "Content-Type: text/x-two\r\n\r\nBlah\r\n--E--\r\n");
  ASSERT_EQ(empty.root.children.size(), 2u);
  EXPECT_TRUE(empty.root.children[0].content_type.defaulted);
  EXPECT_EQ(empty.root.children[0].header.size(), 0u);
  EXPECT_TRUE(empty.root.children[1].content_type.is("text", "x-two"));

  // An inner boundary is tried before an outer one.
  auto nested = parse("Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n"
                      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--ab\r\n\r\ninner\r\n--a--\r\n--ab--\r\n");
  ASSERT_EQ(nested.root.children.size(), 1u);
  ASSERT_EQ(nested.root.children[0].children.size(), 1u);

  // No close delimiter: the last part runs to the end.
  auto open = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n");
  ASSERT_EQ(open.root.children.size(), 2u);
  EXPECT_EQ(range(open, open.root.children[1].body), "y\r\n");

  // No boundary parameter, or no delimiter at all: read as text/plain.
  auto none = parse("Content-Type: multipart/mixed\r\n\r\nbody\r\n");
  EXPECT_TRUE(none.root.content_type.is("text", "plain"));
  auto absent = parse("Content-Type: multipart/mixed; boundary=zz\r\n\r\nbody\r\n");
  EXPECT_TRUE(absent.root.content_type.is("text", "plain"));
  EXPECT_TRUE(absent.root.children.empty());

  // multipart/digest parts default to message/rfc822 (RFC 2046 §5.1.5).
  auto digest = parse("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nhi\r\n--d--\r\n");
  ASSERT_EQ(digest.root.children.size(), 1u);
  EXPECT_TRUE(digest.root.children[0].content_type.is("message", "rfc822"));
  ASSERT_EQ(digest.root.children[0].children.size(), 1u);
}

TEST(MimeMessage, LimitsKeepTheRestOpaque) {
  std::string deep;
  for (int i = 0; i < 50; ++i) {
    deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
            std::to_string(i) + "\r\n";
  }
  deep += "\r\nleaf\r\n";
  auto m = parse(deep, Limits{.max_depth = 10});
  int depth = 0;
  const Part* p = &m.root;
  while (!p->children.empty()) {
    p = &p->children.front();
    ++depth;
  }
  EXPECT_EQ(depth, 10);
  EXPECT_TRUE(p->opaque);
}

TEST(MimeMessage, ContentTypeParameters) {
  auto ct = parse_content_type(" Text/Plain ; charset = \"iso-8859-1\" (comment); format=flowed;;");
  EXPECT_EQ(ct.type, "Text");
  EXPECT_TRUE(ct.is("text", "plain"));
  ASSERT_EQ(ct.params.size(), 2u);
  EXPECT_EQ(ct.param("CHARSET")->value, "iso-8859-1");
  EXPECT_EQ(ct.param("format")->value, "flowed");
  EXPECT_TRUE(parse_content_type("text").defaulted);  // RFC 2045 §5.2: invalid means default
  auto d = parse_disposition("attachment; filename*0*=utf-8''a%20b; filename*1=.txt");
  EXPECT_EQ(d.type, "attachment");
  ASSERT_EQ(d.params.size(), 2u);
  EXPECT_EQ(d.params[0].name, "filename*0*");
}

TEST(Address, Rfc5322Forms) {
  auto a = parse_address_list(
      "\"Joe Q. Public\" <john.q.public@example.com>, Mary Smith <mary@x.test>, jdoe@example.org,"
      " Who? <one@y.test>, <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>");
  ASSERT_EQ(a.size(), 6u);
  EXPECT_EQ(a[0].name, "Joe Q. Public");
  EXPECT_EQ(a[0].mailbox, "john.q.public");
  EXPECT_EQ(a[0].host, "example.com");
  EXPECT_EQ(a[2].name, "");
  EXPECT_EQ(a[2].mailbox, "jdoe");
  EXPECT_EQ(a[3].name, "Who?");
  EXPECT_EQ(a[5].name, "Giant; \"Big\" Box");
}

TEST(Address, OldStyleCommentNamesThePerson) {
  // "user@domain (Real Name)" (RFC 822 §6.1, still sent): the comment is the
  // display name, as Python's parseaddr reads it; a comment inside the
  // address names nobody.
  auto a = parse_address_list("pete@silly.test (Pete \\(the\\) Best), al(home)@x.test, <b@y.test> (kept out)");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].name, "Pete (the) Best");
  EXPECT_EQ(a[0].mailbox, "pete");
  EXPECT_EQ(a[1].name, "");
  EXPECT_EQ(a[1].mailbox, "al");
  EXPECT_EQ(a[1].host, "x.test");
  EXPECT_EQ(a[2].name, "");
}

TEST(Address, GroupsRoutesAndJunk) {
  auto g = parse_address_list("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Undisclosed recipients:;");
  ASSERT_EQ(g.size(), 7u);
  EXPECT_EQ(g[0].kind, Address::Kind::group_start);
  EXPECT_EQ(g[0].name, "A Group");
  EXPECT_EQ(g[3].mailbox, "jdoe");
  EXPECT_EQ(g[4].kind, Address::Kind::group_end);
  EXPECT_EQ(g[5].kind, Address::Kind::group_start);
  EXPECT_EQ(g[6].kind, Address::Kind::group_end);
  auto r = parse_address_list("<@a.test,@b.test:user@c.test>");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].route, "@a.test,@b.test");
  EXPECT_EQ(r[0].mailbox, "user");
  auto bare = parse_address_list("postmaster");
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].mailbox, "postmaster");
  EXPECT_EQ(bare[0].host, "");
  auto comment = parse_address_list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
  ASSERT_EQ(comment.size(), 1u);
  EXPECT_EQ(comment[0].name, "Pete");
  EXPECT_EQ(comment[0].mailbox, "pete");
  EXPECT_EQ(comment[0].host, "silly.test");
  // Found by fuzzing: stray closing brackets and NUL bytes once stopped the
  // tokenizer from advancing.
  auto stray = parse_address_list(std::string("a) b] <x@y.test>\0;;", 20));
  ASSERT_FALSE(stray.empty());
  EXPECT_EQ(stray[0].mailbox, "x");
  auto obs = parse_address_list("Joe Q. Public <a@b.test>, Big Bug bb@bug.test, x@y.test z@w.test");
  ASSERT_EQ(obs.size(), 4u);  // two addresses without a comma stay two
  EXPECT_EQ(obs[0].name, "Joe Q. Public");
  EXPECT_EQ(obs[1].mailbox, "\"Big Bug bb\"");
  EXPECT_EQ(obs[2].host, "y.test");
  EXPECT_EQ(obs[3].mailbox, "z");
  auto named = parse_address_list("jang@xyz <jang@xyz.example>");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].name, "jang@xyz");
  EXPECT_EQ(named[0].host, "xyz.example");
  auto routed = parse_address_list("a!b@c@d.test");
  ASSERT_EQ(routed.size(), 1u);
  EXPECT_EQ(routed[0].mailbox, "a!b@c");
  EXPECT_EQ(routed[0].host, "d.test");
  EXPECT_TRUE(parse_address_list("").empty());
  EXPECT_TRUE(parse_address_list(" ,, ").empty());
}

// The FETCH example of RFC 9051 §7.5.2 / RFC 3501 §7.4.2.
TEST(Imap, EnvelopeOfTheRfcExample) {
  auto m = parse(
      "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
      "From: Terry Gray <gray@cac.washington.edu>\r\n"
      "Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
      "To: imap@cac.washington.edu\r\n"
      "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
      "Message-Id: <B27397-0100000@cac.washington.ed>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nbody\r\n");
  EXPECT_EQ(envelope(m),
            "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" "
            "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
            "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
            "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
            "((NIL NIL \"imap\" \"cac.washington.edu\")) "
            "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
            "NIL NIL \"<B27397-0100000@cac.washington.ed>\")");
  EXPECT_EQ(body_structure(m, false, Grammar::imap4rev2), "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1)");
  EXPECT_EQ(body_structure(m, true, Grammar::imap4rev2),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 6 1 NIL NIL NIL NIL)");
}

TEST(Imap, GroupsAndEmptyFields) {
  auto m = parse("From: \r\nTo: Undisclosed recipients:;\r\nSubject:\r\n\r\n");
  EXPECT_EQ(envelope(m),
            "(NIL \"\" NIL NIL NIL ((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
            "NIL NIL NIL NIL)");
}

TEST(Imap, StringsThatCannotBeQuotedAreLiterals) {
  std::string out;
  append_string(out, "caf\xc3\xa9");
  EXPECT_EQ(out, "{5}\r\ncaf\xc3\xa9");
  out.clear();
  append_string(out, "say \"hi\" \\o/");
  EXPECT_EQ(out, "\"say \\\"hi\\\" \\\\o/\"");
}

TEST(Imap, NestedMessageBodyStructure) {
  auto m = parse(
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nFrom: a@b.test\r\n\r\ninner body\r\n--x--\r\n");
  auto body = body_structure(m, true, Grammar::imap4rev2);
  EXPECT_EQ(body,
            "((\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 44 (NIL \"inner\" ((NIL NIL \"a\" \"b.test\")) "
            "((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"a\" \"b.test\")) NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 4 "
            "NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"x\") NIL NIL NIL)");
  EXPECT_EQ(testing_imap::check_body(body, true), "");
}

// RFC 9051 §9 media-message is MESSAGE/RFC822 or MESSAGE/GLOBAL; RFC 3501
// §9's is MESSAGE/RFC822 only, so an IMAP4rev1 client is shown a
// message/global part as body-type-basic.
TEST(Imap, MessageGlobalDependsOnTheRevision) {
  auto m = parse(
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/global\r\n\r\n"
      "Subject: caf\xc3\xa9\r\nFrom: a@b.test\r\n\r\ninner body\r\n--x--\r\n");
  EXPECT_TRUE(renders_differ_by_revision(m));
  auto rev2 = body_structure(m, false, Grammar::imap4rev2);
  auto rev1 = body_structure(m, false, Grammar::imap4rev1);
  EXPECT_EQ(rev2,
            "((\"message\" \"global\" NIL NIL NIL \"7BIT\" 44 (NIL {5}\r\ncaf\xc3\xa9 ((NIL NIL \"a\" \"b.test\")) "
            "((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"a\" \"b.test\")) NIL NIL NIL NIL NIL) "
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1) 4) \"mixed\")");
  EXPECT_EQ(rev1, "((\"message\" \"global\" NIL NIL NIL \"7BIT\" 44) \"mixed\")");
  EXPECT_EQ(testing_imap::check_body(rev2, false, true), "");
  EXPECT_EQ(testing_imap::check_body(rev1, false, false), "");
  // Each form is invalid under the other grammar.
  EXPECT_NE(testing_imap::check_body(rev1, false, true), "");
  for (bool ext : {true, false}) {
    EXPECT_EQ(testing_imap::check_body(body_structure(m, ext, Grammar::imap4rev1), ext, false), "");
    EXPECT_EQ(testing_imap::check_body(body_structure(m, ext, Grammar::imap4rev2), ext, true), "");
  }
  EXPECT_FALSE(renders_differ_by_revision(parse("Content-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\ny\r\n")));
}

// Past the depth limit a message/rfc822 part is not parsed further, yet the
// grammar still wants an envelope and a body for it.
TEST(Imap, MessagePastTheDepthLimitStillRendersAsAMessage) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "Content-Type: message/rfc822\r\n\r\n";
  text += "Subject: deep\r\n\r\nbody\r\n";
  auto m = parse(text);
  for (bool ext : {true, false}) {
    for (Grammar grammar : {Grammar::imap4rev1, Grammar::imap4rev2}) {
      auto body = body_structure(m, ext, grammar);
      EXPECT_EQ(testing_imap::check_body(body, ext, grammar == Grammar::imap4rev2), "") << body;
    }
  }
}

}  // namespace
}  // namespace roost::mime

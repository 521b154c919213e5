#include <gtest/gtest.h>

#include "roost/mime/sort_keys.hpp"

namespace roost::mime {
namespace {

// RFC 5256 §2.1 and the subj-* ABNF of §5.
TEST(BaseSubject, StripsReplyAndForwardArtifacts) {
  auto base = [](std::string_view s) { return base_subject(s).text; };
  EXPECT_EQ(base("Re: hello"), "hello");
  EXPECT_EQ(base("RE: Re: re: hello"), "hello");
  EXPECT_EQ(base("Fwd: hello"), "hello");
  EXPECT_EQ(base("FW: hello (fwd)"), "hello");
  EXPECT_EQ(base("Re [mailing-list]: hello"), "hello");
  EXPECT_EQ(base("[mailing-list] Re: hello"), "hello");
  EXPECT_EQ(base("[fwd: Re: hello]"), "hello");
  EXPECT_EQ(base("Re: [fwd: [list] hello (fwd)]  "), "hello");
  // A blob is removed only if a subject remains after it.
  EXPECT_EQ(base("[only a blob]"), "[only a blob]");
  EXPECT_EQ(base("[a] [b]"), "[b]");
  // Tabs and runs of spaces become one space; encoded words are decoded.
  EXPECT_EQ(base("Re:\thello    world"), "hello world");
  EXPECT_EQ(base("=?utf-8?q?Re=3A_caf=C3=A9?="), "caf\xc3\xa9");
  EXPECT_EQ(base("Rex: not a reply"), "Rex: not a reply");
  EXPECT_FALSE(base_subject("hello").reply_or_forward);
  EXPECT_TRUE(base_subject("Re: hello").reply_or_forward);
  EXPECT_TRUE(base_subject("hello (fwd)").reply_or_forward);
}

// RFC 5051 §2: titlecase, then full decomposition of each code point.
TEST(Casemap, TitlecaseThenDecompose) {
  EXPECT_EQ(casemap("Hello"), "HELLO");
  EXPECT_EQ(casemap("caf\xc3\xa9"), "CAFE\xcc\x81");        // é -> E + combining acute
  // ǆ titlecases to ǅ (D, small ž), which decomposes to D z caron: the
  // decomposition is not titlecased again (RFC 5051 §2, step 2b).
  EXPECT_EQ(casemap("\xc7\x86"), "Dz\xcc\x8c");
  EXPECT_NE(casemap("stra\xc3\x9f" "e"), casemap("STRASSE"));  // not case folding
  EXPECT_EQ(casemap("\xef\xac\x81le"), "fiLE");             // ﬁ has no titlecase: NFKD "fi"
  EXPECT_EQ(casemap("\xff"), "\xff");                       // invalid UTF-8: octets as they are
}

TEST(Dates, Rfc5322AndObsoleteForms) {
  EXPECT_EQ(parse_date("Fri, 21 Nov 1997 09:55:06 -0600"), 880127706);
  EXPECT_EQ(parse_date("Thu, 13 Feb 1969 23:32:54 -0330"), -27723426);
  EXPECT_EQ(parse_date("21 Nov 97 09:55:06 GMT"), 880106106);
  EXPECT_EQ(parse_date("Fri, 21 Nov 1997 09:55 (comment) EST"), 880124100);
  EXPECT_EQ(parse_date(" Fri,\r\n 21 Nov 1997 09:55:06 +0000 (UTC)"), 880106106);
  // A year before 1900 is no date (RFC 5322 §3.3): the INTERNALDATE sorts it.
  EXPECT_FALSE(parse_date("Tue, 15 Jan 0102 10:00:00 +0000"));
  EXPECT_FALSE(parse_date("Tue, 15 Jan 1899 10:00:00 +0000"));
  EXPECT_TRUE(parse_date("Mon, 1 Jan 1900 00:00:00 +0000"));
  EXPECT_FALSE(parse_date(""));
  EXPECT_FALSE(parse_date("yesterday"));
  EXPECT_FALSE(parse_date("Wed, 15 Dec 2010    59:10 -0500"));
  EXPECT_FALSE(parse_date("Fri, 21 Foo 1997 09:55:06 -0600"));
}

TEST(Addresses, SortKeys) {
  EXPECT_EQ(first_mailbox("\"Smith, Jo\" <jo@example.org>, b@c.test"), "jo");
  // RFC 5256 §3 takes the addr-mailbox of the first address, which for a
  // group is its start marker holding the group name (RFC 3501 §7.4.2).
  EXPECT_EQ(first_mailbox("group:;, x@y.test"), "group");
  EXPECT_EQ(first_mailbox("Friends: a@b.test, c@d.test;"), "Friends");
  EXPECT_EQ(first_display("undisclosed-recipients:;"), "undisclosed-recipients");
  EXPECT_EQ(first_display("=?utf-8?q?Fr=C3=BCnde?=: a@b.test;"), "Fr\xc3\xbcnde");
  EXPECT_EQ(first_mailbox(""), "");
  // RFC 5957: the display name, decoded, else the addr-spec.
  EXPECT_EQ(first_display("=?utf-8?q?J=C3=B6rg?= <j@example.org>"), "J\xc3\xb6rg");
  EXPECT_EQ(first_display("j@example.org"), "j@example.org");
}

TEST(MessageIds, ForThreading) {
  EXPECT_EQ(message_ids("<a@b> <c@d>\r\n\t<e@f>"), (std::vector<std::string>{"a@b", "c@d", "e@f"}));
  EXPECT_EQ(message_ids("junk <a@b> (comment) <c\r\n @d>"), (std::vector<std::string>{"a@b", "c@d"}));
  EXPECT_TRUE(message_ids("no ids here").empty());
}

}  // namespace
}  // namespace roost::mime

// The POP3 command parser, the multi-line message stream (RFC 1939 §3,
// §7) and the UIDL template.
#include <gtest/gtest.h>

#include "roost/core/uidl_format.hpp"
#include "roost/pop3d/message_stream.hpp"
#include "roost/pop3d/syntax.hpp"

namespace roost::pop3 {
namespace {

template <class T>
T parsed(std::string_view line) {
  auto result = parse_command(line);
  EXPECT_TRUE(std::holds_alternative<Command>(result)) << line;
  if (!std::holds_alternative<Command>(result)) return T{};
  const Command& c = std::get<Command>(result);
  EXPECT_TRUE(std::holds_alternative<T>(c)) << line;
  return std::holds_alternative<T>(c) ? std::get<T>(c) : T{};
}

std::string error(std::string_view line) {
  auto result = parse_command(line);
  if (auto* e = std::get_if<SyntaxError>(&result)) return e->text;
  ADD_FAILURE() << "parsed: " << line;
  return {};
}

TEST(Pop3Syntax, KeywordsAreCaseInsensitive) {
  parsed<Stat>("stat");
  parsed<Stat>("StAt");
  parsed<Capa>("capa");
  EXPECT_EQ(parsed<Retr>("retr 7").message, 7u);
}

TEST(Pop3Syntax, PasswordIsTheRestOfTheLine) {
  // RFC 1939 §7: a server may take spaces as part of the password.
  EXPECT_EQ(parsed<Pass>("PASS with two  spaces ").password, "with two  spaces ");
  EXPECT_EQ(parsed<User>("USER alice").name, "alice");
  EXPECT_EQ(error("PASS"), "PASS takes a password");
}

TEST(Pop3Syntax, MessageNumbers) {
  EXPECT_FALSE(parsed<List>("LIST").message.has_value());
  EXPECT_EQ(parsed<List>("LIST 3").message, 3u);
  EXPECT_EQ(parsed<Uidl>("UIDL 4294967295").message, 4294967295u);
  EXPECT_EQ(error("LIST 0"), "Invalid message number");  // numbers start at 1 (§5)
  EXPECT_EQ(error("LIST +1"), "Invalid message number");
  EXPECT_EQ(error("LIST 4294967296"), "Invalid message number");
  EXPECT_EQ(error("DELE"), "DELE takes a message number");
  EXPECT_EQ(error("RETR 1 2"), "RETR takes a message number");
  Top top = parsed<Top>("TOP 2 0");
  EXPECT_EQ(top.message, 2u);
  EXPECT_EQ(top.lines, 0u);
  EXPECT_EQ(error("TOP 2"), "TOP takes a message number and a number of lines");
  EXPECT_EQ(error("TOP 2 -1"), "Invalid number of lines");
}

TEST(Pop3Syntax, Auth) {
  EXPECT_TRUE(parsed<Auth>("AUTH").mechanism.empty());
  Auth plain = parsed<Auth>("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(plain.mechanism, "PLAIN");
  EXPECT_EQ(plain.initial, "AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(parsed<Auth>("AUTH PLAIN =").initial, "=");
  EXPECT_FALSE(parsed<Auth>("AUTH SCRAM-SHA-256").initial.has_value());
}

// RFC 6856 §3 takes a basic language range (RFC 4647 §2.1).
TEST(Pop3Syntax, LanguageRanges) {
  EXPECT_FALSE(parsed<Lang>("LANG").range.has_value());
  EXPECT_EQ(parsed<Lang>("LANG *").range, "*");
  EXPECT_EQ(parsed<Lang>("lang en").range, "en");
  EXPECT_EQ(parsed<Lang>("LANG de-CH-1996").range, "de-CH-1996");
  EXPECT_EQ(parsed<Lang>("LANG abcdefgh-12345678").range, "abcdefgh-12345678");
  EXPECT_EQ(error("LANG abcdefghi"), "Invalid language range");  // a subtag has at most 8
  EXPECT_EQ(error("LANG 1996"), "Invalid language range");       // the first is letters
  EXPECT_EQ(error("LANG en-"), "Invalid language range");
  EXPECT_EQ(error("LANG -en"), "Invalid language range");
  EXPECT_EQ(error("LANG en--us"), "Invalid language range");
  EXPECT_EQ(error("LANG en-*"), "Invalid language range");
  EXPECT_EQ(error("LANG en de"), "LANG takes one language range");
}

TEST(Pop3Syntax, Refusals) {
  EXPECT_EQ(error(""), "Empty command");
  EXPECT_EQ(error("XYZZY"), "Unknown command");
  EXPECT_EQ(error("STAT 1"), "STAT takes no arguments");
  EXPECT_EQ(error(std::string_view("USER a\0b", 8)), "Control characters in the command");
  parsed<Apop>("APOP alice 0123456789abcdef");
}

std::string stream(std::string_view message, std::optional<std::uint64_t> lines = std::nullopt,
                   std::size_t piece = 3) {
  MessageStream s(lines);
  std::string out;
  // Fed in small pieces: line ends and dots split across reads.
  for (std::size_t i = 0; i < message.size(); i += piece)
    if (!s.add(message.substr(i, piece), out)) break;
  s.finish(out);
  return out;
}

TEST(Pop3MessageStream, LineEndsAndDotStuffing) {
  EXPECT_EQ(stream("A: b\n\n.x\nok\n"), "A: b\r\n\r\n..x\r\nok\r\n.\r\n");
  EXPECT_EQ(stream("A: b\r\n\r\n.\r\n..\r\n"), "A: b\r\n\r\n..\r\n...\r\n.\r\n");
  // A message without a final line end gets one before the ".".
  EXPECT_EQ(stream("A: b\n\nno end"), "A: b\r\n\r\nno end\r\n.\r\n");
  EXPECT_EQ(stream("A: b\n\nends in CR\r"), "A: b\r\n\r\nends in CR\r\n.\r\n");
  EXPECT_EQ(stream(""), ".\r\n");
  for (std::size_t piece : {1u, 2u, 5u, 64u}) EXPECT_EQ(stream("a\r\n.b\n", std::nullopt, piece), "a\r\n..b\r\n.\r\n");
}

TEST(Pop3MessageStream, TopStopsAfterTheLinesAsked) {
  const std::string message = "A: 1\nB: 2\n\nl1\n.l2\nl3\n";
  EXPECT_EQ(stream(message, 0), "A: 1\r\nB: 2\r\n\r\n.\r\n");
  EXPECT_EQ(stream(message, 2), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
  EXPECT_EQ(stream(message, 99), "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
  // A header without an empty line after it: all of it is header.
  EXPECT_EQ(stream("A: 1\nB: 2\n", 1), "A: 1\r\nB: 2\r\n.\r\n");
  // CRLF files count lines the same way.
  EXPECT_EQ(stream("A: 1\r\n\r\nl1\r\nl2\r\n", 1), "A: 1\r\n\r\nl1\r\n.\r\n");
  MessageStream s(1);
  std::string out;
  EXPECT_TRUE(s.add("A: 1\n\n", out));
  EXPECT_FALSE(s.add("l1\nl2\n", out));  // has what it needs: stop reading
}

TEST(UidlFormat, DovecotDefault) {
  auto f = UidlFormat::parse("%08Xu%08Xv");
  ASSERT_TRUE(f.has_value());
  // Lower case, as Dovecot 2.3 writes %X (test_dovecot_takeover compares
  // with the real one).
  EXPECT_EQ(f->render(1, 0x6b04805d, "x"), "000000016b04805d");
  EXPECT_EQ(f->render(0x1234abcd, 1, "x"), "1234abcd00000001");
}

TEST(UidlFormat, Variables) {
  EXPECT_EQ(UidlFormat::parse("%v-%u")->render(42, 7, "k"), "7-42");
  EXPECT_EQ(UidlFormat::parse("%f")->render(42, 7, "1700000000.M1P2.host"), "1700000000.M1P2.host");
  EXPECT_EQ(UidlFormat::parse("%xu%%u")->render(255, 7, "k"), "ff%u");
  EXPECT_FALSE(UidlFormat::parse("%x%%u").has_value());
  EXPECT_EQ(UidlFormat::parse("%04u")->render(5, 7, "k"), "0005");
  // Only a %f template needs file names in the maildrop listing.
  EXPECT_TRUE(UidlFormat::parse("x%f")->uses_file_name());
  EXPECT_FALSE(UidlFormat::parse("%08Xu%08Xv%%f")->uses_file_name());
}

TEST(UidlFormat, Refusals) {
  EXPECT_FALSE(UidlFormat::parse("").has_value());
  EXPECT_FALSE(UidlFormat::parse("%q").has_value());
  EXPECT_FALSE(UidlFormat::parse("%08").has_value());
  EXPECT_FALSE(UidlFormat::parse("%8u").has_value());  // would pad with spaces
  EXPECT_FALSE(UidlFormat::parse("%Xf").has_value());
  EXPECT_FALSE(UidlFormat::parse("a b%u").has_value());
}

}  // namespace
}  // namespace roost::pop3

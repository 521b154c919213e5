#include <gtest/gtest.h>

#include "roost/mime/charset.hpp"
#include "roost/mime/decode.hpp"

namespace roost::mime {
namespace {

// RFC 2047 §8, the examples of white space between encoded words.
TEST(EncodedWords, TheRfcExamples) {
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?="), "a");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?= b"), "a b");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a_b?="), "a b");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?="), "a b");
  // RFC 2047 §8 headers.
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?="), "Keld J\xc3\xb8rn Simonsen");
  EXPECT_EQ(decode_header_text("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
                               "=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
            "If you can read this you understand the example.");
}

TEST(EncodedWords, RealWorldCases) {
  // A multibyte character split across two words of one charset.
  EXPECT_EQ(decode_header_text("=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?="), "\xe2\x82\xac");
  // Text around words is kept, white space next to text too.
  EXPECT_EQ(decode_header_text("Re: =?utf-8?q?caf=C3=A9?= ok"), "Re: caf\xc3\xa9 ok");
  // RFC 2231 §5 language suffix; lower-case encoding letter.
  EXPECT_EQ(decode_header_text("=?US-ASCII*EN?q?Keith?="), "Keith");
  // Malformed words stay as they are.
  EXPECT_EQ(decode_header_text("=?utf-8?x?abc?= =?broken"), "=?utf-8?x?abc?= =?broken");
  // Raw UTF-8 (RFC 6532) and raw Latin-1.
  EXPECT_EQ(decode_header_text("Gr\xc3\xbc\xc3\x9f"
                               "e"),
            "Gr\xc3\xbc\xc3\x9f"
            "e");
  EXPECT_EQ(decode_header_text("Gr\xfc\xdf"
                               "e"),
            "Gr\xc3\xbc\xc3\x9f"
            "e");
  // iso-8859-1 read as windows-1252: 0x93 0x94 are curly quotes.
  EXPECT_EQ(decode_header_text("=?iso-8859-1?Q?=93hi=94?="), "\xe2\x80\x9chi\xe2\x80\x9d");
  // An unknown charset label falls back (UTF-8 when valid).
  EXPECT_EQ(decode_header_text("=?x-unknown?Q?caf=C3=A9?="), "caf\xc3\xa9");
}

TEST(Charsets, LabelCorrections) {
  // LIBRARY-FACTS §4: gb2312 as gbk, euc-kr as windows-949.
  EXPECT_EQ(to_utf8("\x81\x40", "gb2312"), "\xe4\xb8\x82");   // 丂
  EXPECT_EQ(to_utf8("\x81\x41", "euc-kr"), "\xea\xb0\x82");   // 갂
  EXPECT_EQ(to_utf8("\x87\x40", "shift_jis"), "\xe2\x91\xa0");  // ①
  EXPECT_EQ(to_utf8("\xf0\xd2\xc9\xd7\xc5\xd4", "koi8-r"), "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  EXPECT_EQ(to_utf8("ok\xff", "utf-8"), "ok\xef\xbf\xbd");  // an invalid byte is U+FFFD
  EXPECT_TRUE(is_valid_utf8("\xe2\x82\xac"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));      // truncated
  // Past the eight-bytes-at-a-time ASCII stretch too.
  EXPECT_TRUE(is_valid_utf8("plain ascii text, then \xe2\x82\xac"));
  EXPECT_FALSE(is_valid_utf8("plain ascii text, then \xc0\xaf"));
}

// Text of seven-bit bytes is itself in every charset but those whose shifts
// are seven-bit: '+' starts a run of base64 in UTF-7 (RFC 2152), "~~" is a
// tilde and "~{" a shift in HZ (RFC 1843).
TEST(Charsets, SevenBitTextNeedsConvertingOnlyWhereItShifts) {
  EXPECT_EQ(to_utf8("1+1=2 ~ C++", "us-ascii"), "1+1=2 ~ C++");
  EXPECT_EQ(to_utf8("1+1=2 ~ C++", "iso-8859-15"), "1+1=2 ~ C++");
  EXPECT_EQ(to_utf8("1+1=2 ~ C++", ""), "1+1=2 ~ C++");
  EXPECT_EQ(to_utf8("Hi Mom -+Jjo--!", "utf-7"), "Hi Mom -\xe2\x98\xba-!");  // RFC 2152's example
  EXPECT_EQ(to_utf8("a~~b", "hz-gb-2312"), "a~b");
}

// RFC 9051 §7.5.2 body parameter list: continuations joined; charset'd
// sections returned as one "name*" value in UTF-8, still RFC 2231 form.
TEST(Parameters, JoinedForImap) {
  auto plain = join_param_continuations({{"access-type", "URL"},
                                         {"URL*0", "ftp://"},
                                         {"URL*1", "cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}});
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].name, "access-type");
  EXPECT_EQ(plain[1].name, "URL");
  EXPECT_EQ(plain[1].value, "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
  auto mixed = join_param_continuations({{"title*0*", "us-ascii'en'This%20is%20even%20more%20"},
                                         {"title*1*", "%2A%2A%2Afun%2A%2A%2A%20"},
                                         {"title*2", "isn't it!"}});
  ASSERT_EQ(mixed.size(), 1u);
  EXPECT_EQ(mixed[0].name, "title*");
  EXPECT_EQ(mixed[0].value, "utf-8'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!");
  // Latin-1 bytes become UTF-8 (é is C3 A9); the round trip gives the text.
  auto latin = join_param_continuations({{"filename*0*", "iso-8859-1''caf%E9"}, {"filename*1*", ".pdf"}});
  ASSERT_EQ(latin.size(), 1u);
  EXPECT_EQ(latin[0].value, "utf-8''caf%C3%A9.pdf");
  EXPECT_EQ(decode_params(latin)[0].value, "caf\xc3\xa9.pdf");
  // A language that is not a tag is dropped: the value stays ASCII.
  EXPECT_EQ(join_param_continuations({{"n*0*", "R:'\xcd'x"}})[0].value, "utf-8''x");
  // Plain values stay as written, encoded words included.
  auto words = join_param_continuations({{"name", "=?koi8-r?B?+sHQ0s/T?="}});
  EXPECT_EQ(words[0].value, "=?koi8-r?B?+sHQ0s/T?=");
}

// Unlabeled 8-bit text that is not UTF-8: ICU's detector names the charset
// when there is enough text to be sure (LIBRARY-FACTS §4), else windows-1252.
TEST(Charsets, UnlabeledTextIsDetected) {
  const std::string koi8 =
      "\xf0\xd2\xc9\xd7\xc5\xd4, \xcb\xc1\xcb \xc4\xc5\xcc\xc1? \xf7\xd3\xd4\xd2\xc5\xde\xc1 "
      "\xda\xc1\xd7\xd4\xd2\xc1";
  const std::string russian =
      "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xba\xd0\xb0\xd0\xba "
      "\xd0\xb4\xd0\xb5\xd0\xbb\xd0\xb0? \xd0\x92\xd1\x81\xd1\x82\xd1\x80\xd0\xb5\xd1\x87\xd0\xb0 "
      "\xd0\xb7\xd0\xb0\xd0\xb2\xd1\x82\xd1\x80\xd0\xb0";  // Привет, как дела? Встреча завтра
  EXPECT_EQ(decode_header_text(koi8), russian);      // a raw 8-bit header field
  EXPECT_EQ(to_utf8(koi8, ""), russian);             // a text part without charset
  EXPECT_EQ(to_utf8(koi8, "unknown-8bit"), russian); // a label ICU cannot open
  // Shift_JIS: 山田 太郎 会議の予定について
  const std::string sjis = "\x8e\x52\x93\x63 \x91\xbe\x98\x59 \x89\xef\x8b\x63\x82\xcc\x97\x5c"
                           "\x92\xe8\x82\xc9\x82\xc2\x82\xa2\x82\xc4";
  EXPECT_EQ(to_utf8(sjis, ""),
            "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e \xe4\xbc\x9a\xe8\xad\xb0\xe3\x81\xae"
            "\xe4\xba\x88\xe5\xae\x9a\xe3\x81\xab\xe3\x81\xa4\xe3\x81\x84\xe3\x81\xa6");
  // Too little text to tell: windows-1252, as before (0x80 is the euro sign).
  EXPECT_EQ(to_utf8("5 \x80", ""), "5 \xe2\x82\xac");
  // A label always wins over detection.
  EXPECT_EQ(to_utf8(koi8.substr(0, 6), "windows-1251"), to_utf8(koi8.substr(0, 6), "cp1251"));
}

// RFC 2231 §3 and §4 examples.
TEST(Parameters, Rfc2231) {
  auto p = decode_params({{"access-type", "URL"},
                          {"URL*0", "ftp://"},
                          {"URL*1", "cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].name, "url");
  EXPECT_EQ(p[1].value, "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
  auto t = decode_params({{"title*", "us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"}});
  EXPECT_EQ(t[0].value, "This is ***fun***");
  auto m = decode_params({{"title*0*", "us-ascii'en'This%20is%20even%20more%20"},
                          {"title*1*", "%2A%2A%2Afun%2A%2A%2A%20"},
                          {"title*2", "isn't it!"}});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].value, "This is even more ***fun*** isn't it!");
  auto utf8 = decode_params({{"filename*", "UTF-8''%E2%82%AC%20rates.pdf"}});
  EXPECT_EQ(utf8[0].value, "\xe2\x82\xac rates.pdf");
  auto rfc2047 = decode_params({{"name", "=?utf-8?B?4oKsIHJhdGVzLnBkZg==?="}});
  EXPECT_EQ(rfc2047[0].value, "\xe2\x82\xac rates.pdf");
}

TEST(TransferEncodings, Tolerant) {
  EXPECT_EQ(decode_base64_lenient("SGVs\r\nbG8s IHdv!cmxk"), "Hello, world");
  EXPECT_EQ(decode_base64_lenient("SGk"), "Hi");  // missing padding
  // BINARY.SIZE counts without decoding; it must agree with decoding.
  for (std::string_view text : {"SGVs\r\nbG8s IHdv!cmxk", "SGk", "SGk=", "SGVsbG8=junk", "", "====", "S", "SG",
                                "a b c d e f g h", "\x80\xff//++"})
    EXPECT_EQ(base64_decoded_size(text), decode_base64_lenient(text).size()) << text;
  // Long enough for the counting in blocks, with every byte value but '='.
  std::string every;
  for (int round = 0; round < 3; ++round)
    for (int c = 1; c < 256; ++c)
      if (c != '=') every += static_cast<char>(c);
  for (std::size_t length : {every.size(), std::size_t{64}, std::size_t{130}, std::size_t{200}})
    EXPECT_EQ(base64_decoded_size(every.substr(0, length)), decode_base64_lenient(every.substr(0, length)).size())
        << length;
  EXPECT_EQ(decode_quoted_printable("caf=C3=A9 =\r\nnext=3D x=\nend"), "caf\xc3\xa9 next= xend");
  EXPECT_EQ(decode_quoted_printable("bad =ZZ and =4"), "bad =ZZ and =4");
  EXPECT_EQ(decode_transfer("=41", "Quoted-Printable"), "A");
  EXPECT_EQ(decode_transfer("=41", "8bit"), "=41");
}

}  // namespace
}  // namespace roost::mime

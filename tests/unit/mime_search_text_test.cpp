#include <gtest/gtest.h>

#include "roost/mime/message.hpp"
#include "roost/mime/search_text.hpp"

namespace roost::mime {
namespace {

TEST(SearchText, DecodesEveryTextPartAndSkipsAttachments) {
  std::string text =
      "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Gr=FC=DFe aus K=F6ln\r\n"
      "--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "PHA+SGVsbG8gPGI+d29ybGQ8L2I+ICZhbXA7IG1vcmU8L3A+PHNjcmlwdD5ldmlsKCk8L3NjcmlwdD4=\r\n"
      "--b\r\nContent-Type: application/pdf\r\n\r\nnot text at all\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner subject\r\n\r\ninner body\r\n--b--\r\n";
  auto st = search_text(parse(text));
  EXPECT_NE(st.headers.find("Subject: caf\xc3\xa9\n"), std::string::npos);
  // A nested message's header is body text of the outer message (RFC 3501 SEARCH BODY).
  EXPECT_NE(st.body.find("Subject: inner subject\n"), std::string::npos);
  EXPECT_EQ(st.headers.find("inner subject"), std::string::npos);
  EXPECT_NE(st.body.find("Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln"), std::string::npos);
  EXPECT_NE(st.body.find("Hello world & more"), std::string::npos);
  EXPECT_EQ(st.body.find("evil"), std::string::npos);
  EXPECT_EQ(st.body.find("not text at all"), std::string::npos);
  EXPECT_NE(st.body.find("inner body"), std::string::npos);
}

TEST(SearchText, HtmlToText) {
  EXPECT_EQ(html_to_text("<p>a<br>b</p><!-- hidden --><style>x{}</style>c &lt;d&gt; &#233;&#x20AC;"),
            "\na\nb\nc <d> \xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(html_to_text("unterminated <tag"), "unterminated ");
  EXPECT_EQ(html_to_text("&bogus; &#99999999;"), "&bogus; &#99999999;");
}

TEST(Preview, FirstReadableTextCollapsed) {
  auto m = parse(
      "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
      "Content-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n"
      "--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello   there,\r\n\r\n  caf\xc3\xa9!\r\n--a--\r\n"
      "--o\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot this\r\n--o--\r\n");
  EXPECT_EQ(preview(m), "Hello there, caf\xc3\xa9!");
  auto html_only = parse("Content-Type: text/html\r\n\r\n<div>Only <b>HTML</b> &amp; more</div>");
  EXPECT_EQ(preview(html_only), "Only HTML & more");
  auto image = parse("Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n");
  EXPECT_EQ(preview(image), "");
  std::string long_text = "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  for (int i = 0; i < 300; ++i) long_text += "\xc3\xa9";
  auto capped = preview(parse(long_text));
  EXPECT_EQ(capped.size(), 400u);  // 200 characters of two octets each (RFC 8970 §3.3)
}

TEST(BinarySize, DecodedContentSize) {
  auto m = parse("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                 "AAECAwQF\r\nBgc=\r\n");
  EXPECT_EQ(decoded_size(m, m.root), 8u);
  auto q = parse("Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc");
  EXPECT_EQ(decoded_size(q, q.root), 4u);
  auto plain = parse("Subject: x\n\nline\n");
  EXPECT_EQ(decoded_size(plain, plain.root), 6u);  // CRLF on the wire
}

}  // namespace
}  // namespace roost::mime

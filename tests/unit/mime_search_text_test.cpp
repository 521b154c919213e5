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
  EXPECT_NE(st.headers.find("Subject: inner subject\n"), std::string::npos);
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

}  // namespace
}  // namespace roost::mime

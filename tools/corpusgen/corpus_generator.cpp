#include "corpus_generator.hpp"

#include <unicode/ucnv.h>

#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

namespace roost::corpus {
namespace {

constexpr std::array<std::string_view, 24> words = {
    "meeting", "budget",  "report",  "quarter", "review", "project", "schedule", "invoice",
    "update",  "team",    "travel",  "launch",  "design", "server",  "backup",   "release",
    "minutes", "agenda",  "contract", "draft",  "summary", "question", "feedback", "plan"};

// Names and subjects in the scripts mail carries, with the charset each is
// typically sent in.
struct Sample {
  std::string_view utf8;
  std::string_view charset;
};
constexpr std::array<Sample, 10> names = {{
    {"Anna Schmidt", "us-ascii"},
    {"J\xc3\xb6rg M\xc3\xbcller", "iso-8859-1"},
    {"Fran\xc3\xa7oise L\xc3\xa9vy", "windows-1252"},
    {"\xd0\x90\xd0\xbd\xd0\xbd\xd0\xb0 \xd0\x9f\xd0\xb5\xd1\x82\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb0", "koi8-r"},
    {"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", "shift_jis"},
    {"\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e", "gbk"},
    {"\xe9\x99\xb3\xe5\xa4\xa7\xe6\x96\x87", "big5"},
    {"Zbigniew \xc5\x81ukasz", "iso-8859-2"},
    {"\xce\x9d\xce\xaf\xce\xba\xce\xbf\xcf\x82", "windows-1253"},
    {"Bob Jones", "utf-8"},
}};

// Sentences for body text, each with a charset its language is mailed in
// (several per language where the field has several).
constexpr std::array<Sample, 14> phrases = {{
    {"Gr\xc3\xbc\xc3\x9f"
     "e aus M\xc3\xbc"
     "nchen, die Besprechung ist verschoben.",
     "iso-8859-1"},
    {"Fran\xc3\xa7oise a envoy\xc3\xa9 le rapport \xc3\xa0 l\xe2\x80\x99\xc3\xa9quipe.", "windows-1252"},
    {"Sch\xc5\xaf"
     "zka je p\xc5\x99"
     "esunuta na z\xc3\xadt\xc5\x99"
     "ek.",
     "windows-1250"},
    {"Za\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 g\xc4\x99\xc5\x9bl\xc4\x85 ja\xc5\xba\xc5\x84, spotkanie jutro.",
     "iso-8859-2"},
    {"\xd0\x92\xd1\x81\xd1\x82\xd1\x80\xd0\xb5\xd1\x87\xd0\xb0 \xd0\xbf\xd0\xb5\xd1\x80\xd0\xb5\xd0\xbd"
     "\xd0\xb5\xd1\x81\xd0\xb5\xd0\xbd\xd0\xb0 \xd0\xbd\xd0\xb0 \xd0\xb7\xd0\xb0\xd0\xb2\xd1\x82\xd1\x80"
     "\xd0\xb0.",
     "koi8-r"},
    {"\xd0\x9e\xd1\x82\xd1\x87\xd0\xb5\xd1\x82 \xd0\xb3\xd0\xbe\xd1\x82\xd0\xbe\xd0\xb2, \xd1\x81\xd0\xbc"
     "\xd0\xbe\xd1\x82\xd1\x80\xd0\xb8\xd1\x82\xd0\xb5 \xd0\xb2\xd0\xbb\xd0\xbe\xd0\xb6\xd0\xb5\xd0\xbd"
     "\xd0\xb8\xd0\xb5.",
     "windows-1251"},
    {"\xce\x97 \xcf\x83\xcf\x85\xce\xbd\xce\xac\xce\xbd\xcf\x84\xce\xb7\xcf\x83\xce\xb7 \xce\xbc\xce\xb5"
     "\xcf\x84\xce\xb1\xcf\x86\xce\xad\xcf\x81\xce\xb8\xce\xb7\xce\xba\xce\xb5.",
     "iso-8859-7"},
    {"\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1 \xcf\x83\xce\xb1\xcf\x82.", "windows-1253"},
    {"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x81\xaf\xe6\x98\x8e\xe6\x97\xa5\xe3\x81\xab\xe5\xbb\xb6\xe6\x9c\x9f"
     "\xe3\x81\x95\xe3\x82\x8c\xe3\x81\xbe\xe3\x81\x97\xe3\x81\x9f\xe3\x80\x82",
     "shift_jis"},
    {"\xe4\xbc\x9a\xe8\xae\xae\xe6\x94\xb9\xe5\x88\xb0\xe6\x98\x8e\xe5\xa4\xa9\xef\xbc\x8c\xe6\x8a\xa5"
     "\xe5\x91\x8a\xe5\xb7\xb2\xe7\xbb\x8f\xe5\x87\x86\xe5\xa4\x87\xe5\xa5\xbd\xe4\xba\x86\xe3\x80\x82",
     "gb2312"},
    {"\xe4\xb8\x82\xe4\xb8\x84 \xe6\x8a\xa5\xe5\x91\x8a\xe3\x80\x82", "gbk"},  // 丂丄 are GBK only
    {"\xe6\x9c\x83\xe8\xad\xb0\xe6\x94\xb9\xe5\x88\xb0\xe6\x98\x8e\xe5\xa4\xa9\xef\xbc\x8c\xe5\xa0\xb1"
     "\xe5\x91\x8a\xe5\xb7\xb2\xe7\xb6\x93\xe6\xba\x96\xe5\x82\x99\xe5\xa5\xbd\xe4\xba\x86\xe3\x80\x82",
     "big5"},
    {"T\xc3\xbcrk\xc3\xa7"
     "e: toplant\xc4\xb1 yar\xc4\xb1na ertelendi.",
     "iso-8859-9"},
    {"Plain words and a snowman \xe2\x98\x83 in UTF-8.", "utf-8"},
}};

std::string from_utf8(std::string_view utf8, std::string_view charset) {
  UErrorCode status = U_ZERO_ERROR;
  std::string out(utf8.size() * 4 + 16, '\0');
  int32_t n = ucnv_convert(std::string(charset).c_str(), "utf-8", out.data(),
                           static_cast<int32_t>(out.size()), utf8.data(),
                           static_cast<int32_t>(utf8.size()), &status);
  if (U_FAILURE(status)) return std::string(utf8);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) |
                      std::uint8_t(bytes[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += alphabet[(v >> k) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t v = std::uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= std::uint8_t(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 2047 encoded word(s) for text in a charset; ASCII stays as it is.
std::string encode_word(std::string_view utf8, std::string_view charset, bool q) {
  bool ascii = true;
  for (unsigned char c : utf8) ascii = ascii && c < 0x80;
  if (ascii) return std::string(utf8);
  std::string bytes = from_utf8(utf8, charset);
  if (!q) return "=?" + std::string(charset) + "?B?" + base64(bytes) + "?=";
  std::string out = "=?" + std::string(charset) + "?Q?";
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : bytes) {
    if (c == ' ') out += '_';
    else if (c < 0x80 && std::isalnum(c)) out += static_cast<char>(c);
    else {
      out += '=';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + "?=";
}

// Quoted-printable (RFC 2045 §6.7) with soft breaks before 76 columns.
std::string quoted_printable(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      out += "\r\n";
      ++i;
      column = 0;
      continue;
    }
    bool next_is_break = i + 1 >= bytes.size() || bytes[i + 1] == '\r';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !next_is_break);
    std::size_t width = literal ? 1 : 3;
    if (column + width > 75) {
      out += "=\r\n";
      column = 0;
    }
    if (literal) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
    column += width;
  }
  return out;
}

std::string folded_base64(std::string_view bytes) {
  std::string b = base64(bytes);
  std::string out;
  for (std::size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

std::string rfc5322_date(std::int64_t t, int offset_minutes) {
  std::time_t local = static_cast<std::time_t>(t + offset_minutes * 60);
  std::tm tm{};
  gmtime_r(&local, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S", &tm);
  char zone[16];
  int a = std::abs(offset_minutes);
  std::snprintf(zone, sizeof zone, "%c%02d%02d", offset_minutes < 0 ? '-' : '+', a / 60, a % 60);
  return std::string(buf) + " " + zone;
}

}  // namespace

Message Generator::next() {
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random_() % n); };
  Message m;
  ++count_;
  const auto& sender = names[pick(names.size())];
  std::string local = "user" + std::to_string(pick(500));
  m.facts.from_address = local + "@example" + std::to_string(pick(20)) + ".test";
  m.facts.from_name = std::string(sender.utf8);
  m.facts.message_id = "gen" + std::to_string(count_) + "." + std::to_string(random_() % 100000) +
                       "@corpus.test";
  m.facts.planted_word = "zq" + std::to_string(count_) + "x" + std::to_string(random_() % 997);
  m.facts.date = 946684800 + static_cast<std::int64_t>(random_() % (25ull * 365 * 86400));
  static constexpr int zones[] = {0, 60, 120, -300, -420, 330, 540, -180};
  int zone = zones[pick(std::size(zones))];

  // Subject: new, or a reply/forward in an existing thread.
  std::string subject_utf8;
  std::string subject_charset = "utf-8";  // one that can hold every character of it
  std::string in_reply_to;
  std::string references;
  if (!threads_.empty() && pick(3) == 0) {
    const auto& parent = threads_[pick(threads_.size())];
    subject_utf8 = (pick(4) == 0 ? "Fwd: " : "Re: ") + parent.subject;
    subject_charset = parent.charset;
    in_reply_to = "<" + parent.id + ">";
    references = in_reply_to;
  } else {
    subject_utf8 = std::string(words[pick(words.size())]) + " " +
                   std::string(words[pick(words.size())]);
    if (pick(3) == 0) {
      const auto& n = names[pick(names.size())];
      subject_utf8 += " " + std::string(n.utf8);
      subject_charset = std::string(n.charset);
    }
  }
  threads_.push_back(Thread{m.facts.message_id, subject_utf8, subject_charset});
  if (threads_.size() > 200) threads_.erase(threads_.begin());
  m.facts.subject = subject_utf8;
  bool q = pick(2) == 0;

  std::string h;
  h += "Return-Path: <" + m.facts.from_address + ">\r\n";
  h += "Received: from mx" + std::to_string(pick(9)) + ".example.test by mail.test with ESMTPS;\r\n\t" +
       rfc5322_date(m.facts.date + 2, 0) + "\r\n";
  h += "Date: " + rfc5322_date(m.facts.date, zone) + "\r\n";
  std::string display = encode_word(sender.utf8, sender.charset, q);
  h += "From: " + display + " <" + m.facts.from_address + ">\r\n";
  h += "To: Team <team@corpus.test>";
  for (std::size_t i = 0, n = pick(4); i < n; ++i) h += ",\r\n user" + std::to_string(pick(500)) + "@corpus.test";
  h += "\r\n";
  h += "Subject: " + encode_word(subject_utf8, subject_charset, q) + "\r\n";
  h += "Message-ID: <" + m.facts.message_id + ">\r\n";
  if (!in_reply_to.empty()) h += "In-Reply-To: " + in_reply_to + "\r\nReferences: " + references + "\r\n";
  h += "MIME-Version: 1.0\r\n";

  // Body text: a realistic spread of sizes (most small, a few large).
  double scale = std::exp(static_cast<double>(random_() % 1000) / 1000.0 * 6.0);  // 1..400
  std::size_t paragraphs = 1 + static_cast<std::size_t>(scale / 4);
  std::string text;
  for (std::size_t p = 0; p < paragraphs; ++p) {
    std::string line;
    for (std::size_t w = 0; w < 60; ++w) {
      line += std::string(words[pick(words.size())]) + " ";
      if (line.size() > 70) {
        text += line + "\r\n";
        line.clear();
      }
    }
    text += line + "\r\n\r\n";
  }
  text += "Ref " + m.facts.planted_word + "\r\n";
  for (const char* keyword : keywords) {
    if (pick(8) == 0) {
      m.facts.keywords.emplace_back(keyword);
      text += "Also " + std::string(keyword) + ".\r\n";
    }
  }
  // Most mail is UTF-8 or plain ASCII; the rest in the charsets of its
  // language, sent 8bit, quoted-printable or base64.
  const Sample* phrase = pick(3) == 0 ? &phrases[pick(phrases.size())] : nullptr;
  m.facts.body_charset = phrase != nullptr ? std::string(phrase->charset) : "utf-8";
  if (phrase != nullptr) {
    m.facts.body_phrase = std::string(phrase->utf8);
    text += m.facts.body_phrase + "\r\n";
  }
  std::string body_bytes = from_utf8(text, m.facts.body_charset);
  static constexpr const char* encodings[] = {"8bit", "quoted-printable", "base64"};
  m.facts.body_encoding = phrase != nullptr ? encodings[pick(3)] : "8bit";
  auto encoded = [&](std::string_view bytes) {
    if (m.facts.body_encoding == "base64") return folded_base64(bytes);
    if (m.facts.body_encoding == "quoted-printable") return quoted_printable(bytes);
    return std::string(bytes);
  };
  std::string text_headers = "Content-Type: text/plain; charset=" + m.facts.body_charset +
                             "\r\nContent-Transfer-Encoding: " + m.facts.body_encoding + "\r\n";

  std::string boundary = "=_b" + std::to_string(count_) + "_" + std::to_string(random_() % 100000);
  switch (pick(4)) {
    case 0:  // plain
      m.text = h + text_headers + "\r\n" + encoded(body_bytes);
      m.facts.leaf_count = 1;
      break;
    case 1: {  // alternative
      h += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
      std::string html = from_utf8("<html><body><p>" + text + "</p></body></html>\r\n", m.facts.body_charset);
      std::string html_headers = text_headers;
      html_headers.replace(html_headers.find("text/plain"), 10, "text/html");
      m.text = h + "--" + boundary + "\r\n" + text_headers + "\r\n" + encoded(body_bytes) + "\r\n--" +
               boundary + "\r\n" + html_headers + "\r\n" + encoded(html) + "\r\n--" + boundary + "--\r\n";
      m.facts.leaf_count = 2;
      break;
    }
    default: {  // mixed with attachments, sometimes a nested message
      h += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
      m.text = h + "--" + boundary + "\r\n" + text_headers + "\r\n" + encoded(body_bytes);
      m.facts.leaf_count = 1;
      std::size_t attachments = 1 + pick(3);
      for (std::size_t a = 0; a < attachments; ++a) {
        std::size_t size = 512 + static_cast<std::size_t>(scale * scale * 16) % max_attachment_;
        std::string bytes(size, '\0');
        for (auto& b : bytes) b = static_cast<char>(random_());
        const auto& n = names[pick(names.size())];
        m.text += "\r\n--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"file" +
                  std::to_string(a) + ".bin\"\r\nContent-Transfer-Encoding: base64\r\n"
                  "Content-Disposition: attachment; filename*=utf-8''" +
                  std::string("report-") + std::to_string(a) + ".bin\r\nContent-Description: " +
                  encode_word(n.utf8, n.charset, false) + "\r\n\r\n" + folded_base64(bytes);
        ++m.facts.leaf_count;
      }
      if (pick(5) == 0) {
        m.text += "\r\n--" + boundary + "\r\nContent-Type: message/rfc822\r\n\r\n"
                  "From: nested@corpus.test\r\nSubject: forwarded\r\nDate: " +
                  rfc5322_date(m.facts.date - 86400, 0) +
                  "\r\nContent-Type: text/plain\r\n\r\nThe forwarded text.\r\n";
        m.facts.leaf_count += 2;  // the message/rfc822 part and its body
      }
      m.text += "\r\n--" + boundary + "--\r\n";
      break;
    }
  }
  return m;
}

}  // namespace roost::corpus

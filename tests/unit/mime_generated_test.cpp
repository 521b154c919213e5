// The generated corpus read back through mime/: every fact the generator
// recorded must be what the parser finds.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "corpus_generator.hpp"
#include "imap_reader.hpp"
#include "roost/mime/address.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/message.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/sort_keys.hpp"

namespace roost::mime {
namespace {

TEST(GeneratedCorpus, ParserFindsWhatTheGeneratorWrote) {
  corpus::Generator generator(42);
  std::set<std::string> charsets;
  std::set<std::string> encodings;
  for (int i = 0; i < 300; ++i) {
    auto g = generator.next();
    auto m = parse(g.text);
    SCOPED_TRACE("message " + std::to_string(i));
    ASSERT_NE(m.header.find("Subject"), nullptr);
    EXPECT_EQ(decode_header_text(m.header.find("Subject")->raw_value), g.facts.subject);
    auto from = parse_address_list(m.header.find("From")->raw_value);
    ASSERT_EQ(from.size(), 1u);
    EXPECT_EQ(from[0].mailbox + "@" + from[0].host, g.facts.from_address);
    EXPECT_EQ(decode_header_text(from[0].name), g.facts.from_name);
    EXPECT_EQ(message_ids(m.header.find("Message-ID")->raw_value).at(0), g.facts.message_id);
    EXPECT_EQ(parse_date(m.header.find("Date")->raw_value), g.facts.date);
    EXPECT_EQ(leaves(m).size(), g.facts.leaf_count);
    const Part* text = find_part(m, {1});
    ASSERT_NE(text, nullptr);
    EXPECT_EQ(text->encoding, g.facts.body_encoding);
    // The body's words and phrase come back decoded from its transfer
    // encoding and charset, whichever the generator chose.
    auto searchable = search_text(m).body;
    EXPECT_NE(searchable.find(g.facts.planted_word), std::string::npos);
    EXPECT_NE(searchable.find(g.facts.body_phrase), std::string::npos) << g.facts.body_charset;
    for (const char* keyword : corpus::keywords) {
      bool planted = std::find(g.facts.keywords.begin(), g.facts.keywords.end(), keyword) != g.facts.keywords.end();
      EXPECT_EQ(searchable.find(keyword) != std::string::npos, planted) << keyword;
    }
    charsets.insert(g.facts.body_charset);
    encodings.insert(g.facts.body_encoding);
    EXPECT_EQ(m.wire_size, g.text.size());  // generated with CRLF throughout
    EXPECT_EQ(testing_imap::check_body(body_structure(m, true, Grammar::imap4rev2), true), "");
  }
  // 300 messages cover every body charset and transfer encoding.
  EXPECT_EQ(charsets.size(), 14u);
  EXPECT_EQ(encodings.size(), 3u);
}

TEST(GeneratedCorpus, SameSeedSameMail) {
  corpus::Generator a(7), b(7), c(8);
  for (int i = 0; i < 20; ++i) {
    auto x = a.next();
    EXPECT_EQ(x.text, b.next().text);
    EXPECT_NE(x.text, c.next().text);
  }
}

}  // namespace
}  // namespace roost::mime

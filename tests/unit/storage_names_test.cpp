// Folder names and maildir file names: RFC 3501 §5.1.3 modified UTF-7,
// Maildir++ directory names, hostile names (DESIGN.md invariant 5).
#include <gtest/gtest.h>

#include "../../storage/src/maildir.hpp"
#include "../../storage/src/quota.hpp"
#include "../../storage/src/uidlist.hpp"
#include "roost/index/folder_index.hpp"
#include "roost/storage/mailbox_name.hpp"
#include "storage_test_util.hpp"

namespace roost::storage {
namespace {

TEST(MailboxName, ModifiedUtf7BothWays) {
  // RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語".
  EXPECT_EQ(encode_mutf7("~peter/mail/\u53F0\u5317/\u65E5\u672C\u8A9E"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(decode_mutf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-").value(), "~peter/mail/\u53F0\u5317/\u65E5\u672C\u8A9E");
  EXPECT_EQ(encode_mutf7("Entw\u00FCrfe"), "Entw&APw-rfe");
  EXPECT_EQ(encode_mutf7("a&b"), "a&-b");
  EXPECT_EQ(decode_mutf7("a&-b").value(), "a&b");
}

TEST(MailboxName, NonCanonicalModifiedUtf7IsRefused) {
  // ICU accepts these; the re-encoding check must not.
  EXPECT_EQ(decode_mutf7("&AGE-").error(), NameError::bad_mutf7);   // "a" must be written directly
  EXPECT_EQ(decode_mutf7("bad&").error(), NameError::bad_mutf7);    // unterminated shift
  EXPECT_EQ(decode_mutf7("&U,BTFw").error(), NameError::bad_mutf7);  // no '-'
  EXPECT_EQ(decode_mutf7("caf\xC3\xA9").error(), NameError::bad_mutf7);  // 8-bit is not UTF-7
}

TEST(MailboxName, CanonicalNames) {
  EXPECT_EQ(canonical_name("inbox").value(), "INBOX");
  EXPECT_EQ(canonical_name("InBoX/Sub").value(), "INBOX/Sub");
  EXPECT_EQ(canonical_name("Archive/2024").value(), "Archive/2024");
  EXPECT_EQ(canonical_name("Entw\u00FCrfe").value(), "Entw\u00FCrfe");
}

TEST(MailboxName, HostileNamesAreRefused) {
  EXPECT_EQ(canonical_name("").error(), NameError::empty);
  EXPECT_EQ(canonical_name("a//b").error(), NameError::empty);
  EXPECT_EQ(canonical_name("a/").error(), NameError::empty);
  EXPECT_EQ(canonical_name("/etc").error(), NameError::empty);
  EXPECT_EQ(canonical_name("..").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("../../etc").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("a/../b").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name(".hidden").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("v1.2").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name(std::string("a\0b", 3)).error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("a\nb").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("a\x7f").error(), NameError::bad_character);
  EXPECT_EQ(canonical_name("\xC3\x28").error(), NameError::bad_utf8);
  EXPECT_EQ(canonical_name(std::string(300, 'x')).error(), NameError::too_long);
}

TEST(MailboxName, DirectoryNames) {
  EXPECT_EQ(directory_name("INBOX"), "");
  EXPECT_EQ(directory_name("Archive/2024"), ".Archive.2024");
  EXPECT_EQ(directory_name("Entw\u00FCrfe/Alt"), ".Entw&APw-rfe.Alt");
  EXPECT_EQ(name_from_directory(".Entw&APw-rfe.Alt").value(), "Entw\u00FCrfe/Alt");
  EXPECT_FALSE(name_from_directory("..").has_value());
  EXPECT_FALSE(name_from_directory(".a/b").has_value());
  EXPECT_FALSE(name_from_directory(".&AGE-").has_value());
  EXPECT_FALSE(name_from_directory(".a..b").has_value());
}

TEST(MaildirFileName, FlagsInAsciiOrderWithKeywordLetters) {
  namespace fl = index::flag;
  maildir::FileName name = maildir::parse("123.M4P5.host,S=100,W=104:2,FS");
  EXPECT_EQ(name.key, "123.M4P5.host,S=100,W=104");
  EXPECT_EQ(name.flags, fl::flagged | fl::seen);
  EXPECT_EQ(name.size.value(), 100u);
  EXPECT_EQ(name.vsize.value(), 104u);
  name.flags = fl::seen | fl::answered | fl::draft | fl::deleted;
  name.keywords = 0b101;  // a, c
  EXPECT_EQ(maildir::with_flags(name), "123.M4P5.host,S=100,W=104:2,DRSTac");
  // P (passed) and unknown letters survive a flag change.
  maildir::FileName other = maildir::parse("k:2,PSZ");
  EXPECT_TRUE(other.passed);
  other.flags = 0;
  EXPECT_EQ(maildir::with_flags(other), "k:2,PZ");
  EXPECT_EQ(maildir::parse("plain").key, "plain");
}

TEST(MaildirFileName, UniqueNamesDifferAndCarrySizes) {
  std::string a = maildir::unique_name("mx/1:2", 10, 12), b = maildir::unique_name("mx/1:2", 10, 12);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find('/'), std::string::npos);
  EXPECT_EQ(a.find(':'), std::string::npos);
  EXPECT_NE(a.find(",S=10,W=12"), std::string::npos);
}

TEST(UidList, ReadsDovecotVersion3AndAppends) {
  testing::TempDir dir;
  auto file = dir.path() / "dovecot-uidlist";
  testing::write_file(file, "3 V1700000000 N5 G0123456789abcdef0123456789abcdef\n"
                            "1 :1.M1P1.host,S=10,W=11\n"
                            "3 S20 W21 :3.M1P1.host\n"
                            "4 :4.M1P1.host:2,S\n");
  auto contents = uidlist::read(file);
  ASSERT_TRUE(contents.has_value());
  EXPECT_EQ(contents->header.uidvalidity, 1700000000u);
  EXPECT_EQ(contents->header.next_uid, 5u);
  ASSERT_EQ(contents->entries.size(), 3u);
  EXPECT_EQ(contents->entries[1].uid, 3u);
  EXPECT_EQ(contents->entries[1].key, "3.M1P1.host");
  EXPECT_EQ(contents->entries[2].key, "4.M1P1.host");  // an old writer's full name
  auto end = uidlist::append(file, {{5, "5.M1P1.host", {}}});
  ASSERT_TRUE(end.has_value());
  auto tail = uidlist::read(file, std::pair{contents->inode, contents->end});
  ASSERT_TRUE(tail.has_value());
  ASSERT_EQ(tail->entries.size(), 1u);
  EXPECT_EQ(tail->entries[0].uid, 5u);
  EXPECT_EQ(tail->end, *end);
}

TEST(UidList, CopiesKeepTheirSourceIdentityInTheGField) {
  testing::TempDir dir;
  auto file = dir.path() / "dovecot-uidlist";
  testing::write_file(file, "3 V9 N1 G00ff\n");
  ASSERT_TRUE(uidlist::append(file, {uidlist::entry_for(1, "1.M1P1.host", ""),
                                     uidlist::entry_for(2, "2.M1P1.host", "2.M1P1.host"),
                                     uidlist::entry_for(3, "3.M2P2.host", "1.M1P1.host")})
                  .has_value());
  auto contents = uidlist::read(file);
  ASSERT_TRUE(contents.has_value());
  ASSERT_EQ(contents->entries.size(), 3u);
  EXPECT_EQ(uidlist::guid_of(contents->entries[0]), "");
  EXPECT_EQ(uidlist::guid_of(contents->entries[1]), "");  // the key itself: no field
  EXPECT_EQ(uidlist::guid_of(contents->entries[2]), "1.M1P1.host");
  EXPECT_EQ(contents->entries[2].key, "3.M2P2.host");
  auto header = uidlist::read_header(file);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->guid, "00ff");
  EXPECT_TRUE(uidlist::usable_guid(header->guid));
  EXPECT_FALSE(uidlist::usable_guid(""));
  EXPECT_FALSE(uidlist::usable_guid("a.b"));
}

// RFC 1939 §7: a UIDL is 1 to 70 characters from 0x21 to 0x7E; a P field
// that is not one is ignored rather than sent.
TEST(UidList, PopUidlsRecordedByAMigrationReadBackAndSurviveARewrite) {
  testing::TempDir dir;
  auto file = dir.path() / "dovecot-uidlist";
  testing::write_file(file, std::string("3 V9 N20 G00ff\n"
                                        "3 W120 POld-1 :a.M1P1.host\n"
                                        "4 G1.M1P1.host P<x@y> S100 :b.M1P1.host\n"
                                        "5 Pbad\x7f :c.M1P1.host\n"
                                        "6 P") + std::string(71, 'u') + " :d.M1P1.host\n"
                                        "7 P" + std::string(70, 'u') + " :e.M1P1.host\n");
  auto contents = uidlist::read(file);
  ASSERT_TRUE(contents.has_value());
  ASSERT_EQ(contents->entries.size(), 5u);
  EXPECT_EQ(uidlist::pop3_uidl_of(contents->entries[0]), "Old-1");
  EXPECT_EQ(uidlist::pop3_uidl_of(contents->entries[1]), "<x@y>");
  EXPECT_EQ(uidlist::guid_of(contents->entries[1]), "1.M1P1.host");
  EXPECT_EQ(uidlist::pop3_uidl_of(contents->entries[2]), "");
  EXPECT_EQ(uidlist::pop3_uidl_of(contents->entries[3]), "");
  EXPECT_EQ(uidlist::pop3_uidl_of(contents->entries[4]), std::string(70, 'u'));

  std::vector<uidlist::Entry> rewritten;
  for (const auto& e : contents->entries)
    rewritten.push_back(uidlist::entry_for(e.uid, e.key, uidlist::guid_of(e), uidlist::pop3_uidl_of(e)));
  ASSERT_TRUE(uidlist::rewrite(file, contents->header, rewritten).has_value());
  auto again = uidlist::read(file);
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->entries.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(uidlist::pop3_uidl_of(again->entries[i]), uidlist::pop3_uidl_of(contents->entries[i]));
    EXPECT_EQ(uidlist::guid_of(again->entries[i]), uidlist::guid_of(contents->entries[i]));
    EXPECT_EQ(again->entries[i].key, contents->entries[i].key);
  }
  EXPECT_EQ(uidlist::entry_for(8, "f.M1P1.host", "", "").ext, "");
}

TEST(UidList, TornLastLineIsNotGluedToTheNext) {
  testing::TempDir dir;
  auto file = dir.path() / "dovecot-uidlist";
  testing::write_file(file, "3 V7 N2\n1 :one\n2 :tw");  // a crash mid-line
  ASSERT_TRUE(uidlist::append(file, {{3, "three", {}}}).has_value());
  auto contents = uidlist::read(file);
  ASSERT_TRUE(contents.has_value());
  ASSERT_EQ(contents->entries.size(), 3u);
  EXPECT_EQ(contents->entries[2].uid, 3u);
  EXPECT_EQ(contents->entries[2].key, "three");
}

}  // namespace
}  // namespace roost::storage

namespace roost::storage {
namespace {

TEST(MaildirFiles, KeywordsFileSkipsWhatIsNotALetter) {
  auto keywords = maildir::parse_keywords("0 $Label1\n2 Work\nx Bad\n26 TooFar\n99999999999999999999 Wrap\n 1 Space\n");
  ASSERT_EQ(keywords.size(), 3u);
  EXPECT_EQ(keywords[0], "$Label1");
  EXPECT_EQ(keywords[1], "");
  EXPECT_EQ(keywords[2], "Work");
}

TEST(MaildirFiles, MaildirsizeSumsAndRefusesAbsurdTotals) {
  auto usage = quota::parse("0S,0C\n100 2\n-40 -1\nnot a line\n");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->bytes, 60);
  EXPECT_EQ(usage->messages, 1);
  EXPECT_FALSE(quota::parse("").has_value());  // no limits line: recount
  EXPECT_FALSE(quota::parse("0S,0C\n-5 -1\n").has_value());  // negative: recount
  EXPECT_FALSE(quota::parse("0S,0C\n9223372036854775807 1\n9223372036854775807 1\n").has_value());
}

}  // namespace
}  // namespace roost::storage

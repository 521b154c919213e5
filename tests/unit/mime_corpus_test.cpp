// Every message of ../shared/corpus: parsed without a sanitizer report, its
// RFC822.SIZE and IMAP part numbering as Dovecot 2.3 reported them (the
// manifest's cross-check), and its ENVELOPE and BODYSTRUCTURE valid IMAP
// syntax as checked by a small reader written here from RFC 9051 §9.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <variant>

#include "imap_reader.hpp"
#include "roost/mime/charset.hpp"
#include "roost/mime/address.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/imap.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/message.hpp"

namespace roost::mime {
namespace {

namespace fs = std::filesystem;

const fs::path corpus = fs::path(ROOST_SOURCE_DIR) / ".." / "shared" / "corpus";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Splits an mbox as Python's mailbox.mbox does (the manifest was made with
// it): at lines starting "From "; the empty line before such a line belongs
// to the separator.
std::vector<std::string> split_mbox(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  std::size_t start = std::string::npos;
  bool previous_empty = false;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    if (text.compare(pos, 5, "From ") == 0) {
      if (start != std::string::npos) {
        std::size_t stop = previous_empty ? pos - 1 : pos;
        out.push_back(text.substr(start, stop - start));
      }
      start = eol + 1;
    }
    std::size_t content_end = eol;
    if (content_end > pos && text[content_end - 1] == '\r') --content_end;
    previous_empty = content_end == pos;
    pos = eol + 1;
  }
  if (start != std::string::npos && start <= text.size()) out.push_back(text.substr(start));
  return out;
}

// A minimal JSON reader for the manifest's flat objects.
struct Row {
  std::string file;
  long mbox_index = -1;
  long long size_crlf = -1;
  long long dovecot_size = -1;
  bool dovecot_size_agrees = false;
  std::optional<std::string> subject;  // as Python's email package decodes it
  std::vector<std::string> from_names;
  std::string body_token;  // a word SEARCH BODY must find
  std::vector<std::string> from_addresses;
  std::vector<std::pair<std::string, std::string>> leaves;  // Dovecot's view
};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string json_string(const std::string& line, std::size_t& i) {
  std::string out;
  ++i;
  while (i < line.size() && line[i] != '"') {
    if (line[i] == '\\') {
      ++i;
      char e = line[i];
      if (e == 'u') {
        std::uint32_t cp = static_cast<std::uint32_t>(std::stoul(line.substr(i + 1, 4), nullptr, 16));
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && line.compare(i + 1, 2, "\\u") == 0) {
          std::uint32_t low = static_cast<std::uint32_t>(std::stoul(line.substr(i + 3, 4), nullptr, 16));
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        }
        append_utf8(out, cp);
      } else {
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      }
    } else {
      out += line[i];
    }
    ++i;
  }
  ++i;
  return out;
}

std::vector<std::pair<std::string, std::string>> json_leaves(const std::string& line,
                                                             std::size_t at) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t end = line.find(']', at);
  std::size_t i = at;
  while (true) {
    std::size_t s = line.find("\"section\": ", i);
    if (s == std::string::npos || s > end) break;
    i = s + 11;
    std::string section = json_string(line, i);
    std::size_t t = line.find("\"type\": ", i);
    i = t + 8;
    std::string type = json_string(line, i);
    out.emplace_back(section, type);
  }
  return out;
}

long long json_number(const std::string& line, const std::string& key) {
  auto k = line.find("\"" + key + "\": ");
  if (k == std::string::npos) return -1;
  k += key.size() + 4;
  if (line.compare(k, 4, "null") == 0) return -1;
  return std::stoll(line.substr(k));
}

std::vector<Row> manifest() {
  std::vector<Row> rows;
  std::ifstream in(corpus / "MANIFEST.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    Row r;
    std::size_t i = line.find("\"file\": ") + 8;
    r.file = json_string(line, i);
    r.mbox_index = static_cast<long>(json_number(line, "mbox_index"));
    r.size_crlf = json_number(line, "size_crlf");
    r.dovecot_size = json_number(line, "dovecot_rfc822_size");
    r.dovecot_size_agrees = line.find("\"dovecot_size_agrees\": true") != std::string::npos;
    for (auto [key, list] : {std::pair{"\"from_name\": [", &r.from_names},
                             std::pair{"\"from\": [", &r.from_addresses}}) {
      auto k = line.find(key);
      if (k == std::string::npos) continue;
      std::size_t at = k + std::strlen(key);
      while (at < line.size() && line[at] == '"') {
        list->push_back(json_string(line, at));
        if (line.compare(at, 2, ", ") == 0) at += 2;
      }
    }
    if (auto k = line.find("\"body_token\": \""); k != std::string::npos) {
      std::size_t at = k + 14;
      r.body_token = json_string(line, at);
    }
    if (auto k = line.find("\"subject\": \""); k != std::string::npos) {
      std::size_t at = k + 11;
      r.subject = json_string(line, at);
    }
    auto d = line.find("\"dovecot_imap_leaves\": ");
    r.leaves = json_leaves(line, d != std::string::npos ? d : line.find("\"imap_leaves\": "));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Where Roost reads a message differently from Dovecot 2.3, on purpose. All
// are malformed; each reason says which reading is kept and why.
const std::map<std::string, std::string> known_differences = {
    // RFC 2045 §5.2: a Content-Type without a subtype is text/plain;
    // Dovecot reports an empty type and subtype ("" "").
    {"crymap/torture-test.eml", "invalid Content-Type of part 12.2"},
    {"mimekit/messages/missing-subtype.txt", "invalid Content-Type"},
    {"python-test_email/msg_14.txt", "invalid Content-Type"},
    {"stalwart-mail-parser/malformed/017.eml", "invalid Content-Type"},
    // An unquoted boundary containing '=' (boundary=----=_Part...): Dovecot
    // reads it only up to the '=', so its close delimiter starts a part of
    // the epilogue; Roost and Python take the whole value.
    {"mikel-mail/mime_emails/raw_email_with_binary_encoded.eml", "unquoted boundary with '='"},
    {"mikel-mail/mime_emails/raw_email_with_illegal_boundary.eml", "unquoted boundary with '='"},
    {"mikel-mail/plain_emails/raw_email_bad_time.eml", "unquoted boundary with '='"},
    // Boundaries that are prefixes of each other, and header-less nested
    // messages: Dovecot's own parser tests, where its streaming parser's
    // choices are artifacts of its implementation.
    {"stalwart-mail-parser/malformed/001.eml", "boundary prefix"},
    {"stalwart-mail-parser/malformed/008.eml", "boundary prefix"},
    {"stalwart-mail-parser/malformed/010.eml", "header-less nested messages"},
    // mbox messages whose bodies hold unescaped "From " lines, split where
    // Python splits them; the fragments are then read differently.
    {"mimekit/mbox/content-length.mbox#0", "mbox fragment"},
    {"mimekit/mbox/content-length.mbox#1", "mbox fragment"},
    {"mimekit/mbox/content-length.mbox#2", "mbox fragment"},
    {"mimekit/mbox/simple.mbox#2", "mbox fragment"},
};

TEST(MimeCorpus, EveryMessageAsDovecotSeesIt) {
  auto rows = manifest();
  ASSERT_GT(rows.size(), 300u) << "corpus manifest not found under " << corpus;
  std::map<std::string, std::vector<std::string>> mbox_cache;
  std::size_t checked = 0;
  std::vector<std::string> structure_mismatches, size_mismatches;
  for (const auto& row : rows) {
    std::string text;
    if (row.mbox_index >= 0) {
      auto& parts = mbox_cache[row.file];
      if (parts.empty()) parts = split_mbox(read_file(corpus / row.file));
      ASSERT_LT(static_cast<std::size_t>(row.mbox_index), parts.size()) << row.file;
      text = parts[static_cast<std::size_t>(row.mbox_index)];
    } else {
      text = read_file(corpus / row.file);
    }
    std::string name = row.file + (row.mbox_index >= 0 ? "#" + std::to_string(row.mbox_index) : "");
    auto message = parse(text);

    // The sizes are those of the message as Dovecot stored it: LF made CRLF.
    long long expected_size = row.dovecot_size >= 0 ? row.dovecot_size : row.size_crlf;
    // The quick count a delivery names its file by agrees with the parse.
    EXPECT_EQ(wire_size(text), message.wire_size) << name;
    if (static_cast<long long>(message.wire_size) != expected_size) {
      size_mismatches.push_back(name + ": " + std::to_string(message.wire_size) + " vs " +
                                std::to_string(expected_size));
    }

    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& leaf : leaves(message)) {
      got.emplace_back(leaf.section, lower(leaf.part->content_type.type + "/" +
                                           leaf.part->content_type.subtype));
    }
    if (got != row.leaves && !known_differences.contains(name)) {
      std::string g, e;
      for (auto& [s, t] : got) g += s + "=" + t + " ";
      for (auto& [s, t] : row.leaves) e += s + "=" + t + " ";
      structure_mismatches.push_back(name + "\n    ours:    " + g + "\n    dovecot: " + e);
    }

    auto env = envelope(message);
    auto env_check = testing_imap::check_envelope(env);
    EXPECT_TRUE(env_check.empty()) << name << ": ENVELOPE " << env_check << "\n" << env;
    for (bool ext : {true, false}) {
      for (Grammar grammar : {Grammar::imap4rev1, Grammar::imap4rev2}) {
        auto body = body_structure(message, ext, grammar);
        auto body_check = testing_imap::check_body(body, ext, grammar == Grammar::imap4rev2);
        EXPECT_TRUE(body_check.empty()) << name << ": " << (ext ? "BODYSTRUCTURE " : "BODY ")
                                         << (grammar == Grammar::imap4rev2 ? "rev2 " : "rev1 ")
                                         << body_check << "\n" << body;
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, rows.size());
  std::string report;
  for (const auto& m : structure_mismatches) report += "  " + m + "\n";
  EXPECT_TRUE(structure_mismatches.empty())
      << structure_mismatches.size() << " of " << rows.size()
      << " messages are numbered differently from Dovecot:\n" << report;
  std::string sizes;
  for (const auto& m : size_mismatches) sizes += "  " + m + "\n";
  EXPECT_TRUE(size_mismatches.empty()) << "RFC822.SIZE differs:\n" << sizes;
}

std::string message_text(const Row& row, std::map<std::string, std::vector<std::string>>& mbox) {
  if (row.mbox_index < 0) return read_file(corpus / row.file);
  auto& parts = mbox[row.file];
  if (parts.empty()) parts = split_mbox(read_file(corpus / row.file));
  return parts.at(static_cast<std::size_t>(row.mbox_index));
}

TEST(MimeCorpus, SubjectsDecodeLikePython) {
  std::map<std::string, std::vector<std::string>> mbox;
  std::size_t compared = 0;
  std::string report;
  for (const auto& row : manifest()) {
    if (!row.subject) continue;
    auto text = message_text(row, mbox);
    auto m = parse(text);
    const HeaderField* f = m.header.find("Subject");
    if (f == nullptr) continue;
    ++compared;
    auto ours = decode_header_text(f->raw_value);
    std::string python(*row.subject);
    while (!python.empty() && (python.back() == ' ' || python.back() == '\t')) python.pop_back();
    if (python.find("\xef\xbf\xbd") != std::string::npos) {
      // Python gives up (U+FFFD) on raw 8-bit text; Roost reads it as
      // windows-1252. Only ask for valid UTF-8 there.
      EXPECT_TRUE(is_valid_utf8(ours)) << row.file;
      continue;
    }
    if (ours != python) {
      report += "  " + row.file + "\n    ours:   " + ours + "\n    python: " + *row.subject + "\n";
    }
  }
  EXPECT_GT(compared, 300u);
  EXPECT_TRUE(report.empty()) << report;
}

// The manifest's word comes from Python's idea of the body; Roost's search
// text is decoded text, so words that exist only inside base64 attachments
// are not in it (RFC 3501 leaves "body" to the server; Dovecot decodes too).
const std::map<std::string, std::string> search_differences = {
    {"mimekit/mbox/content-length.mbox#15", "word inside base64 of an application part"},
    {"mimekit/mbox/content-length.mbox#16", "word inside base64 of an application part"},
    {"mimekit/messages/issue358.txt", "word inside base64 of an application part"},
};

TEST(MimeCorpus, SearchTextHoldsTheBodyWord) {
  std::map<std::string, std::vector<std::string>> mbox;
  std::size_t checked = 0;
  std::string missing;
  for (const auto& row : manifest()) {
    if (row.body_token.empty()) continue;
    std::string name = row.file + (row.mbox_index >= 0 ? "#" + std::to_string(row.mbox_index) : "");
    if (search_differences.contains(name)) continue;
    auto text = message_text(row, mbox);
    // SEARCH TEXT: where Python saw a body but the header had no empty line
    // to end it, the words are in the header (as Dovecot reads it).
    auto st = search_text(parse(text));
    auto body = lower(st.headers + st.body);
    ++checked;
    if (body.find(lower(row.body_token)) == std::string::npos) {
      missing += "  " + row.file + (row.mbox_index >= 0 ? "#" + std::to_string(row.mbox_index) : "") +
                 ": " + row.body_token + "\n";
    }
  }
  EXPECT_GT(checked, 150u);
  EXPECT_TRUE(missing.empty()) << "SEARCH BODY would miss:\n" << missing;
}

// Where Roost reads a From field differently from Python's email package.
const std::map<std::string, std::string> from_differences = {
    // Two addresses without a comma: Python keeps the first, Roost both.
    {"mikel-mail/plain_emails/raw_email_multiple_from.eml", "addresses without a comma"},
    // Encoded words inside a display name: Python inserts spaces at the
    // word boundaries ("C arol Ada ms"); RFC 2047 §6.2 drops them.
    {"mikel-mail/error_emails/bad_subject.eml", "encoded-word spacing"},
    // "x@y <z@w>": Roost reads x@y as the display name, Python as the address.
    {"mimekit/messages/issue358.txt", "address used as display name"},
    // A From_ line inside an mbox fragment.
    {"mimekit/mbox/content-length.mbox#0", "mbox fragment"},
    // "a!b@c@d": Python gives up ("<>"); Roost splits at the last '@'.
    {"mimekit/mbox/content-length.mbox#6", "two '@'"},
};

TEST(MimeCorpus, FromAddressesAndNamesLikePython) {
  std::map<std::string, std::vector<std::string>> mbox;
  std::size_t compared = 0;
  std::string report;
  for (const auto& row : manifest()) {
    if (row.from_addresses.empty()) continue;
    auto text = message_text(row, mbox);
    auto m = parse(text);
    const HeaderField* f = m.header.find("From");
    if (f == nullptr) continue;
    std::string name = row.file + (row.mbox_index >= 0 ? "#" + std::to_string(row.mbox_index) : "");
    if (from_differences.contains(name)) continue;
    std::vector<std::string> addresses, names;
    for (const auto& a : parse_address_list(f->raw_value)) {
      if (a.kind != Address::Kind::mailbox) continue;
      if (a.mailbox.empty() && a.host.empty()) addresses.push_back("<>");  // Python's null sender
      else addresses.push_back(a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host);
      names.push_back(decode_header_text(a.name));
    }
    ++compared;
    bool python_gave_up = false;
    for (const auto& n : row.from_names) python_gave_up |= n.find("\xef\xbf\xbd") != std::string::npos;
    for (const auto& n : row.from_addresses) python_gave_up |= n.find("\xef\xbf\xbd") != std::string::npos;
    if (python_gave_up) {
      for (const auto& n : names) EXPECT_TRUE(is_valid_utf8(n)) << name;
      continue;
    }
    // "user@host (Real Name)": Roost takes the comment as the name (what
    // ENVELOPE shows, as parseaddr reads it); the manifest's reader
    // (headerregistry) leaves the name empty.
    std::vector<std::string> expected_names = row.from_names;
    for (std::size_t i = 0; i < expected_names.size() && i < names.size(); ++i)
      if (expected_names[i].empty() && !names[i].empty() && f->raw_value.find("(" + names[i]) != std::string::npos)
        expected_names[i] = names[i];
    if (addresses != row.from_addresses || names != expected_names) {
      std::string o, p;
      for (std::size_t i = 0; i < addresses.size(); ++i) o += names[i] + " <" + addresses[i] + "> ";
      for (std::size_t i = 0; i < row.from_addresses.size(); ++i) {
        p += (i < row.from_names.size() ? row.from_names[i] : "?") + " <" + row.from_addresses[i] + "> ";
      }
      report += "  " + name + "\n    ours:   " + o + "\n    python: " + p + "\n";
    }
  }
  EXPECT_GT(compared, 300u);
  EXPECT_TRUE(report.empty()) << report;
}

}  // namespace
}  // namespace roost::mime

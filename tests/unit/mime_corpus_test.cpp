// Every message of ../shared/corpus: parsed without a sanitizer report, its
// RFC822.SIZE and IMAP part numbering as Dovecot 2.3 reported them (the
// manifest's cross-check), and its ENVELOPE and BODYSTRUCTURE valid IMAP
// syntax as checked by a small reader written here from RFC 9051 §9.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include "imap_reader.hpp"
#include "roost/mime/imap.hpp"
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
  std::vector<std::pair<std::string, std::string>> leaves;  // Dovecot's view
};

std::string json_string(const std::string& line, std::size_t& i) {
  std::string out;
  ++i;
  while (i < line.size() && line[i] != '"') {
    if (line[i] == '\\') {
      ++i;
      if (line[i] == 'u') {
        i += 4;  // non-ASCII escapes do not occur in the keys we read
        out += '?';
      } else {
        out += line[i] == 'n' ? '\n' : line[i];
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
      auto body = body_structure(message, ext);
      auto body_check = testing_imap::check_body(body, ext);
      EXPECT_TRUE(body_check.empty())
          << name << ": " << (ext ? "BODYSTRUCTURE " : "BODY ") << body_check << "\n" << body;
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

}  // namespace
}  // namespace roost::mime

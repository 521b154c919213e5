// A seeded generator of realistic mail for tests and benchmarks: encoded
// words in many charsets, threads (Message-ID, In-Reply-To, References and
// Re:/Fwd: subjects), dates across years and zones, plain, alternative and
// mixed messages with attachments and nested messages, sizes from about 1 KB
// to several MB, and a record of facts about each message that tests check.
// The same seed always gives the same messages.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace roost::corpus {

// Rare words planted in some bodies (about one message in eight each), so
// that a search for one has a known set of hits.
inline constexpr const char* keywords[] = {"aardvark", "quokka", "zeppelin", "marzipan",
                                           "okapi",    "tamarind", "xylophone", "gondola"};

struct Facts {
  std::string subject;       // decoded, as a reader shows it
  std::string from_address;  // addr-spec of the first From address
  std::string from_name;     // decoded display name
  std::string message_id;    // without angle brackets
  std::string planted_word;  // a word that occurs in this message's body only
  std::vector<std::string> keywords;  // the words of `keywords` in its body
  std::string body_charset;           // the label of its text part(s)
  std::string body_encoding;          // their Content-Transfer-Encoding
  std::string body_phrase;            // UTF-8 text their decoded body contains
  unsigned leaf_count = 0;   // non-multipart parts, as IMAP numbers them
  std::int64_t date = 0;     // seconds since 1970, UTC
};

struct Message {
  std::string text;  // CRLF line endings
  Facts facts;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : random_(seed) {}
  // Attachments no larger than `max_attachment` bytes (benchmarks that need
  // 100k messages on one disk use a smaller cap than the 3 MiB default).
  Generator(std::uint64_t seed, std::size_t max_attachment) : random_(seed), max_attachment_(max_attachment) {}
  Message next();

 private:
  std::mt19937_64 random_;
  std::uint64_t count_ = 0;
  std::size_t max_attachment_ = 3u << 20;
  struct Thread {
    std::string id;
    std::string subject;
    std::string charset;
  };
  std::vector<Thread> threads_;
};

}  // namespace roost::corpus

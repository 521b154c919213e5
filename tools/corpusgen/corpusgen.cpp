// corpusgen: writes the seeded generated corpus to a folder, one message per
// file, with a manifest of the facts tests check against.
//   corpusgen --out DIR [--seed N] [--count N] [--max-attachment BYTES]
// DIR/NNNNNN.eml holds message N (CRLF line endings); DIR/manifest.json
// holds {"seed", "count", "messages": [{file, subject, ...}], "hits":
// {keyword: [file, ...]}}, where "hits" lists for each planted keyword the
// messages whose body contains it (what SEARCH BODY must find).
#include <boost/json/src.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "corpus_generator.hpp"

namespace {

constexpr const char* usage = "usage: corpusgen --out DIR [--seed N] [--count N] [--max-attachment BYTES]\n";

bool parse_number(const std::string& text, std::uint64_t& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

boost::json::object facts_json(const std::string& file, const roost::corpus::Facts& f) {
  boost::json::array keywords;
  for (const auto& k : f.keywords) keywords.emplace_back(k);
  return boost::json::object{{"file", file},
                             {"subject", f.subject},
                             {"from_address", f.from_address},
                             {"from_name", f.from_name},
                             {"message_id", f.message_id},
                             {"date", f.date},
                             {"leaf_count", f.leaf_count},
                             {"planted_word", f.planted_word},
                             {"keywords", std::move(keywords)},
                             {"body_charset", f.body_charset},
                             {"body_encoding", f.body_encoding},
                             {"body_phrase", f.body_phrase}};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::filesystem::path out;
  std::uint64_t seed = 1;
  std::uint64_t count = 1000;
  std::uint64_t max_attachment = 3u << 20;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "corpusgen: " << a << " needs a value\n" << usage;
      return 2;
    }
    const std::string& value = args[++i];
    bool ok = true;
    if (a == "--out") out = value;
    else if (a == "--seed") ok = parse_number(value, seed);
    else if (a == "--count") ok = parse_number(value, count);
    else if (a == "--max-attachment") ok = parse_number(value, max_attachment) && max_attachment > 0;
    else {
      std::cerr << "corpusgen: unknown option " << a << "\n" << usage;
      return 2;
    }
    if (!ok) {
      std::cerr << "corpusgen: " << a << " needs a positive number, not '" << value << "'\n";
      return 2;
    }
  }
  if (out.empty()) {
    std::cerr << "corpusgen: --out is required\n" << usage;
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::cerr << "corpusgen: cannot create " << out << ": " << ec.message() << "\n";
    return 1;
  }

  roost::corpus::Generator generator(seed, max_attachment);
  boost::json::array messages;
  boost::json::object hits;
  for (const char* keyword : roost::corpus::keywords) hits[keyword] = boost::json::array{};
  for (std::uint64_t n = 1; n <= count; ++n) {
    roost::corpus::Message m = generator.next();
    char name[32];
    std::snprintf(name, sizeof name, "%06llu.eml", static_cast<unsigned long long>(n));
    std::ofstream file(out / name, std::ios::binary | std::ios::trunc);
    file.write(m.text.data(), static_cast<std::streamsize>(m.text.size()));
    if (!file.flush()) {
      std::cerr << "corpusgen: cannot write " << (out / name) << "\n";
      return 1;
    }
    for (const auto& k : m.facts.keywords) hits[k].as_array().emplace_back(name);
    messages.emplace_back(facts_json(name, m.facts));
  }
  boost::json::object manifest{{"seed", seed},
                               {"count", count},
                               {"messages", std::move(messages)},
                               {"hits", std::move(hits)}};
  std::ofstream file(out / "manifest.json", std::ios::trunc);
  file << boost::json::serialize(manifest) << "\n";
  if (!file.flush()) {
    std::cerr << "corpusgen: cannot write " << (out / "manifest.json") << "\n";
    return 1;
  }
  return 0;
}

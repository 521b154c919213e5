// SEARCH=FUZZY (RFC 6203). A FUZZY text key (SUBJECT, FROM, TO, CC, BCC,
// HEADER, BODY, TEXT) matches a message holding any of its words, each
// matched as the exact key would match it (a substring under
// i;unicode-casemap); its score for a message is the share of its words the
// message holds, 1-100. FUZZY over any other key matches exactly, scoring
// 100 (§5 allows falling back to exact matching). A message's relevancy is
// the mean of its scores over the program's FUZZY keys, at least 1.
#include <algorithm>
#include <cmath>

#include "commands.hpp"

namespace roost::imap::commands {
namespace {

using K = SearchNode::Kind;

void collect_fuzzy(const SearchNode& n, std::vector<const SearchNode*>& out) {
  if (n.kind == K::fuzzy) out.push_back(&n);
  for (const auto& child : n.children) collect_fuzzy(child, out);
}

}  // namespace

bool is_fuzzy_text(const SearchNode& n) { return n.kind == K::header || n.kind == K::body || n.kind == K::text; }

std::vector<std::string> fuzzy_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\t')) ++at;
    std::size_t end = at;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    if (end > at) words.emplace_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

bool uses_fuzzy(const SearchNode& n) {
  std::vector<const SearchNode*> found;
  collect_fuzzy(n, found);
  return !found.empty();
}

storage::Result<std::vector<std::uint8_t>> relevancy(ImapSession& s, const SearchNode& program,
                                                     const std::vector<storage::Uid>& uids) {
  std::vector<const SearchNode*> fuzzies;
  collect_fuzzy(program, fuzzies);
  std::vector<storage::Uid> within = uids;
  std::sort(within.begin(), within.end());
  std::vector<double> total(within.size(), 0.0);
  auto position = [&](storage::Uid uid) {
    return static_cast<std::size_t>(std::lower_bound(within.begin(), within.end(), uid) - within.begin());
  };
  for (const SearchNode* fuzzy : fuzzies) {
    const SearchNode& inner = fuzzy->children.front();
    std::vector<SearchNode> parts;
    if (is_fuzzy_text(inner)) {
      for (auto& word : fuzzy_words(inner.text)) {
        parts.push_back(inner);
        parts.back().text = std::move(word);
      }
    }
    if (parts.empty()) parts.push_back(inner);
    for (const auto& part : parts) {
      Reply refusal;
      auto key = index_key(s, part, refusal);
      if (!key) continue;
      auto hits = s.view->search(*key, &within);
      if (!hits) return std::unexpected(hits.error());
      for (auto uid : *hits) total[position(uid)] += 100.0 / static_cast<double>(parts.size());
    }
  }
  std::vector<std::uint8_t> out;
  out.reserve(uids.size());
  for (auto uid : uids) {
    const double mean = fuzzies.empty() ? 100.0 : total[position(uid)] / static_cast<double>(fuzzies.size());
    out.push_back(static_cast<std::uint8_t>(std::clamp(std::lround(mean), 1L, 100L)));
  }
  return out;
}

}  // namespace roost::imap::commands

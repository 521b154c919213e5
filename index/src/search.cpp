// SEARCH over a folder index. Each key narrows a set of UIDs; AND passes
// its running result to the next child, so costly keys (text) see only what
// cheap keys (flags, UIDs, dates) left.
#include "roost/index/search.hpp"
#include "roost/index/object_id.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "roost/core/ascii.hpp"
#include "roost/mime/decode.hpp"
#include "roost/mime/message.hpp"
#include "roost/mime/search_text.hpp"
#include "roost/mime/sort_keys.hpp"

namespace roost::index {

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::size_t kTermStep = 100;  // as folder_index.cpp stores long words

using Uids = std::vector<Uid>;
using Result = std::expected<Uids, LmdbError>;

Uids intersect(const Uids& a, const Uids& b) {
  Uids out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Uids subtract(const Uids& a, const Uids& b) {
  Uids out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Uids unite(const Uids& a, const Uids& b) {
  Uids out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::int64_t day_of(std::int64_t seconds) {
  return seconds >= 0 ? seconds / kDay : -((-seconds + kDay - 1) / kDay);
}

std::uint64_t biased(std::int64_t value) { return static_cast<std::uint64_t>(value) ^ (std::uint64_t{1} << 63); }

// Relative cost, to run cheap keys first inside an AND.
int cost(const SearchKey& key) {
  using K = SearchKey::Kind;
  switch (key.kind) {
    case K::all: case K::uids: case K::flags: case K::keyword: case K::modseq: return 0;
    case K::larger: case K::smaller: case K::before: case K::on: case K::since: case K::sent_before:
    case K::sent_on: case K::sent_since: case K::older: case K::younger: return 1;
    case K::saved_before: case K::saved_on: case K::saved_since: case K::email_id: case K::thread_id: return 2;
    case K::header: return 3;
    case K::body: case K::text: return 4;
    case K::and_: case K::or_: case K::not_: {
      int worst = 0;
      for (const auto& c : key.children) worst = std::max(worst, cost(c));
      return worst;
    }
  }
  return 4;
}

// Messages whose sort key of `kind` lies in [low, high), from the sort index
// and the pending messages' entries.
Result sort_range(const Txn& txn, SortKind kind, std::uint64_t low, std::uint64_t high) {
  Uids out;
  std::string from(1, static_cast<char>(kind));
  append_be64(from, low);
  Cursor cursor(txn, txn.env().dbi(Db::sort));
  std::string_view key;
  bool more = cursor.get(MDB_SET_RANGE, &key, nullptr, from);
  while (more && key.size() == 13 && key[0] == static_cast<char>(kind)) {
    if (read_be64(key.substr(1, 8)) >= high) break;
    out.push_back(read_be32(key.substr(9, 4)));
    more = cursor.get(MDB_NEXT, &key);
  }
  auto pending = pending_sort_entries(txn, kind);
  if (!pending) return std::unexpected(pending.error());
  for (const auto& [entry, uid] : *pending) {
    if (entry.size() != 13) continue;
    const std::uint64_t value = read_be64(std::string_view(entry).substr(1, 8));
    if (value >= low && value < high) out.push_back(uid);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result filter_records(const Txn& txn, const Uids& within, const std::function<bool(const MessageRecord&)>& keep) {
  Uids out;
  for (Uid uid : within) {
    auto record = find_record(txn, uid);
    if (!record) return std::unexpected(record.error());
    if (*record && keep(**record)) out.push_back(uid);
  }
  return out;
}

// UIDs that have, in `field`, a word containing `token`.
Uids term_candidates(const Txn& txn, char field, std::string_view token) {
  token = token.substr(0, kTermStep);
  Uids out;
  Cursor cursor(txn, txn.env().dbi(Db::terms));
  std::string_view key, value;
  bool more = cursor.get(MDB_SET_RANGE, &key, &value, std::string(1, field));
  while (more && !key.empty() && key[0] == field) {
    std::string_view word = key.substr(1);
    if (word.size() >= token.size() &&
        (token.empty() || std::search(word.begin(), word.end(), token.begin(), token.end()) != word.end())) {
      std::size_t count = 0;
      if (mdb_cursor_count(cursor.raw(), &count) == 0 && count > 1 && cursor.get(MDB_GET_MULTIPLE, &key, &value)) {
        do {
          for (std::size_t i = 0; i + 4 <= value.size(); i += 4) out.push_back(read_be32(value.substr(i, 4)));
        } while (cursor.get(MDB_NEXT_MULTIPLE, &key, &value));
      } else {
        out.push_back(read_be32(value));
      }
    }
    more = cursor.get(MDB_NEXT_NODUP, &key, &value);
  }
  // Messages whose words are not merged yet: the same test on their list.
  (void)for_each_pending(txn, [&](Uid uid, const std::vector<std::string_view>& words_of) {
    for (auto entry : words_of) {
      if (entry.empty() || entry[0] != field) continue;
      std::string_view word = entry.substr(1);
      if (word.size() >= token.size() && (token.empty() || word.find(token) != std::string_view::npos)) {
        out.push_back(uid);
        break;
      }
    }
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct TextQuery {
  std::string casemapped;
  std::vector<std::string_view> tokens;
  bool exact_by_index = false;  // one word, nothing else: the index alone decides
};

TextQuery make_query(const std::string& text) {
  TextQuery q;
  q.casemapped = mime::casemap(text);
  q.tokens = words(q.casemapped);
  q.exact_by_index = q.tokens.size() == 1 && q.tokens[0].size() == q.casemapped.size() &&
                     q.casemapped.size() <= kTermStep;
  return q;
}

// Candidates for a text query in one field of the full-text index.
Uids candidates(const Txn& txn, char field, const TextQuery& q, const Uids& within) {
  if (q.tokens.empty()) return within;
  Uids out = within;
  for (auto token : q.tokens) {
    out = intersect(out, term_candidates(txn, field, token));
    if (out.empty()) break;
  }
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return needle.empty() || haystack.find(needle) != std::string_view::npos;
}


// Does a header block have `field` with a value containing the query?
bool header_matches(std::string_view block, const std::string& field, const TextQuery& q) {
  mime::Header header;
  mime::parse_header(block, 0, block.size(), header, 5000);
  for (const auto& f : header.fields) {
    if (!ascii_iequals(f.name, field)) continue;
    if (q.casemapped.empty()) return true;
    if (contains(mime::casemap(mime::header_search_value(f.name, f.raw_value)), q.casemapped)) return true;
  }
  return false;
}

class Evaluator {
 public:
  Evaluator(const Txn& txn, const SearchContext& context) : txn_(txn), context_(context) {}

  Result eval(const SearchKey& key, const Uids& within) {
    using K = SearchKey::Kind;
    if (within.empty()) return within;
    switch (key.kind) {
      case K::all: return within;
      case K::and_: {
        std::vector<const SearchKey*> order;
        for (const auto& c : key.children) order.push_back(&c);
        std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return cost(*a) < cost(*b); });
        Uids current = within;
        for (const SearchKey* c : order) {
          auto next = eval(*c, current);
          if (!next) return next;
          current = std::move(*next);
          if (current.empty()) break;
        }
        return current;
      }
      case K::or_: {
        Uids out;
        Uids rest = within;
        for (const auto& c : key.children) {
          auto part = eval(c, rest);
          if (!part) return part;
          out = unite(out, *part);
          rest = subtract(rest, *part);
        }
        return out;
      }
      case K::not_: {
        if (key.children.empty()) return within;
        auto inner = eval(key.children.front(), within);
        if (!inner) return inner;
        return subtract(within, *inner);
      }
      case K::uids: return intersect(within, key.uids);
      case K::flags: {
        Uids current = within;
        for (unsigned bit = 0; bit < flag::system_count && !current.empty(); ++bit) {
          if ((key.flags & (1u << bit)) == 0) continue;
          auto with = uids_with_flag(txn_, bit);
          if (!with) return std::unexpected(with.error());
          current = intersect(current, *with);
        }
        return current;
      }
      case K::keyword: {
        auto meta = read_meta(txn_);
        if (!meta) return std::unexpected(meta.error());
        for (std::size_t i = 0; i < meta->keywords.size(); ++i) {
          if (!meta->keywords[i].empty() && ascii_iequals(meta->keywords[i], key.text)) {
            auto with = uids_with_flag(txn_, 32 + static_cast<unsigned>(i));
            if (!with) return std::unexpected(with.error());
            return intersect(within, *with);
          }
        }
        return Uids{};
      }
      case K::larger: return in_range(SortKind::size, key.number + 1, UINT64_MAX, within);
      case K::smaller: return in_range(SortKind::size, 0, key.number, within);
      case K::before: return dates(SortKind::arrival, INT64_MIN / 2, key.day * kDay, within);
      case K::on: return dates(SortKind::arrival, key.day * kDay, (key.day + 1) * kDay, within);
      case K::since: return dates(SortKind::arrival, key.day * kDay, INT64_MAX / 2, within);
      // The day the Date: field names, as written (RFC 3501 §6.4.4).
      case K::sent_before: return dates(SortKind::sent_day, INT64_MIN / 2, key.day, within);
      case K::sent_on: return dates(SortKind::sent_day, key.day, key.day + 1, within);
      case K::sent_since: return dates(SortKind::sent_day, key.day, INT64_MAX / 2, within);
      case K::older:
        return dates(SortKind::arrival, INT64_MIN / 2, context_.now - static_cast<std::int64_t>(key.number) + 1, within);
      case K::younger:
        return dates(SortKind::arrival, context_.now - static_cast<std::int64_t>(key.number), INT64_MAX / 2, within);
      case K::saved_before:
        return filter_records(txn_, within, [&](const MessageRecord& r) { return day_of(r.save_date) < key.day; });
      case K::saved_on:
        return filter_records(txn_, within, [&](const MessageRecord& r) { return day_of(r.save_date) == key.day; });
      case K::saved_since:
        return filter_records(txn_, within, [&](const MessageRecord& r) { return day_of(r.save_date) >= key.day; });
      case K::email_id:
        return filter_records(txn_, within, [&](const MessageRecord& r) { return email_id(r) == key.text; });
      case K::thread_id: {
        // Every candidate's id is computed: object identifiers are not
        // indexed (a client asks for them rarely, and by one folder).
        Uids out;
        for (Uid uid : within) {
          auto record = find_record(txn_, uid);
          if (!record) return std::unexpected(record.error());
          if (!*record) continue;
          auto keys = find_keys(txn_, uid);
          if (!keys) return std::unexpected(keys.error());
          if (*keys && thread_id(**record, **keys) == key.text) out.push_back(uid);
        }
        return out;
      }
      case K::modseq: {
        auto changes = changes_since(txn_, key.number == 0 ? 0 : key.number - 1);
        if (!changes) return std::unexpected(changes.error());
        return intersect(within, changes->changed);
      }
      case K::header: return header(key.field, make_query(key.text), within);
      case K::body: return body(make_query(key.text), within);
      case K::text: {
        TextQuery q = make_query(key.text);
        auto in_header = all_headers(q, within);
        if (!in_header) return in_header;
        auto in_body = body(q, subtract(within, *in_header));
        if (!in_body) return in_body;
        return unite(*in_header, *in_body);
      }
    }
    return within;
  }

 private:
  Result dates(SortKind kind, std::int64_t low, std::int64_t high, const Uids& within) {
    if (high <= low) return Uids{};
    return in_range(kind, biased(low), biased(high), within);
  }

  Result in_range(SortKind kind, std::uint64_t low, std::uint64_t high, const Uids& within) {
    auto found = sort_range(txn_, kind, low, high);
    if (!found) return found;
    return intersect(within, *found);
  }

  std::optional<std::string> header_block(Uid uid, const MessageCache& cache) {
    if (cache.header_complete) return cache.header;
    if (context_.header_block) return context_.header_block(uid);
    return std::nullopt;
  }

  // The candidates whose cached data passes `matches`.
  template <class Matches>
  Result confirm_by_cache(const Uids& candidates, Matches matches) {
    Uids out;
    for (Uid uid : candidates) {
      auto cache = find_cache(txn_, uid, cache_field::header | cache_field::search_headers | cache_field::parts);
      if (!cache) return std::unexpected(cache.error());
      if (*cache && matches(uid, **cache)) out.push_back(uid);
    }
    return out;
  }

  Result header(const std::string& field, const TextQuery& q, const Uids& within) {
    return confirm_by_cache(candidates(txn_, term_field::header, q, within),
                            [&](Uid uid, const MessageCache& cache) {
                              auto block = header_block(uid, cache);
                              return block && header_matches(*block, field, q);
                            });
  }

  Result all_headers(const TextQuery& q, const Uids& within) {
    Uids found = candidates(txn_, term_field::header, q, within);
    if (q.exact_by_index) return found;
    return confirm_by_cache(found, [&](Uid, const MessageCache& cache) {
      return contains(cache.search_headers, q.casemapped);
    });
  }

  Result body(const TextQuery& q, const Uids& within) {
    Uids found = candidates(txn_, term_field::body, q, within);
    if (q.exact_by_index) return found;
    Uids out;
    for (Uid uid : found) {
      if (!context_.body_text) break;
      auto text = context_.body_text(uid);
      if (text && contains(*text, q.casemapped)) out.push_back(uid);
    }
    return out;
  }

  const Txn& txn_;
  const SearchContext& context_;
};

}  // namespace

std::string body_search_text(std::string_view message) {
  mime::Message parsed = mime::parse(message);
  return mime::casemap(mime::search_text(parsed).body);
}

std::expected<std::vector<Uid>, LmdbError> search_messages(const Txn& txn, const SearchKey& key,
                                                  const std::vector<Uid>& within, const SearchContext& context) {
  Evaluator evaluator(txn, context);
  return evaluator.eval(key, within);
}

}  // namespace roost::index

// SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with CHARSET US-ASCII and
// UTF-8, ESEARCH return options (RFC 4731) and SEARCHRES (RFC 5182). The
// session resolves what only it knows (sequence numbers, \Recent, $);
// storage answers the rest from the folder index.
#include <algorithm>
#include <cstdlib>
#include <tuple>

#include "commands.hpp"
#include "roost/imapd/writer.hpp"

namespace roost::imap::commands {
namespace {

using K = SearchNode::Kind;
using IK = index::SearchKey::Kind;
namespace flag = index::flag;

index::SearchKey key_of(IK kind) {
  index::SearchKey k;
  k.kind = kind;
  return k;
}

index::SearchKey flags_key(std::uint32_t bits, bool negate) {
  index::SearchKey k = key_of(IK::flags);
  k.flags = bits;
  if (!negate) return k;
  index::SearchKey n = key_of(IK::not_);
  n.children.push_back(std::move(k));
  return n;
}

index::SearchKey uid_key(std::vector<storage::Uid> uids) {
  index::SearchKey k = key_of(IK::uids);
  k.uids = std::move(uids);
  return k;
}

struct Converter {
  const SetResolver& resolve;
  const std::vector<storage::Uid>& recent;  // ascending
  std::string error;

  std::optional<index::SearchKey> convert(const SearchNode& n) {
    index::SearchKey k;
    switch (n.kind) {
      case K::all: return key_of(IK::all);
      case K::and_:
      case K::or_:
      case K::not_: {
        k.kind = n.kind == K::and_ ? IK::and_ : n.kind == K::or_ ? IK::or_ : IK::not_;
        for (const auto& child : n.children) {
          auto c = convert(child);
          if (!c) return std::nullopt;
          k.children.push_back(std::move(*c));
        }
        return k;
      }
      case K::sequence:
      case K::uid: {
        auto uids = resolve(n.set, n.kind == K::uid);
        if (!uids) {
          error = uids.error();
          return std::nullopt;
        }
        return uid_key(std::move(*uids));
      }
      case K::answered: return flags_key(flag::answered, false);
      case K::deleted: return flags_key(flag::deleted, false);
      case K::draft: return flags_key(flag::draft, false);
      case K::flagged: return flags_key(flag::flagged, false);
      case K::seen: return flags_key(flag::seen, false);
      case K::unanswered: return flags_key(flag::answered, true);
      case K::undeleted: return flags_key(flag::deleted, true);
      case K::undraft: return flags_key(flag::draft, true);
      case K::unflagged: return flags_key(flag::flagged, true);
      case K::unseen: return flags_key(flag::seen, true);
      case K::recent: return uid_key(recent);
      case K::new_: {
        k.kind = IK::and_;
        k.children.push_back(uid_key(recent));
        k.children.push_back(flags_key(flag::seen, true));
        return k;
      }
      case K::old: {
        k.kind = IK::not_;
        k.children.push_back(uid_key(recent));
        return k;
      }
      case K::keyword:
      case K::unkeyword: {
        // System flags are not keywords: KEYWORD \Seen matches nothing.
        index::SearchKey kw = key_of(IK::keyword);
        kw.text = n.text;
        if (n.kind == K::keyword) return kw;
        k.kind = IK::not_;
        k.children.push_back(std::move(kw));
        return k;
      }
      case K::larger: k.kind = IK::larger; k.number = n.number; return k;
      case K::smaller: k.kind = IK::smaller; k.number = n.number; return k;
      case K::before: k.kind = IK::before; k.day = n.day; return k;
      case K::on: k.kind = IK::on; k.day = n.day; return k;
      case K::since: k.kind = IK::since; k.day = n.day; return k;
      case K::sent_before: k.kind = IK::sent_before; k.day = n.day; return k;
      case K::sent_on: k.kind = IK::sent_on; k.day = n.day; return k;
      case K::sent_since: k.kind = IK::sent_since; k.day = n.day; return k;
      case K::saved_before: k.kind = IK::saved_before; k.day = n.day; return k;
      case K::saved_on: k.kind = IK::saved_on; k.day = n.day; return k;
      case K::saved_since: k.kind = IK::saved_since; k.day = n.day; return k;
      // Every folder records when each message was saved into it.
      case K::savedate_supported: return key_of(IK::all);
      case K::header: k.kind = IK::header; k.field = n.field; k.text = n.text; return k;
      case K::body: k.kind = IK::body; k.text = n.text; return k;
      case K::text: k.kind = IK::text; k.text = n.text; return k;
      case K::modseq: k.kind = IK::modseq; k.number = n.number; return k;
      case K::emailid: k.kind = IK::email_id; k.text = n.text; return k;
      case K::threadid: k.kind = IK::thread_id; k.text = n.text; return k;
      case K::fuzzy: {
        // RFC 6203: a text key matches any of its words; others match exactly.
        const SearchNode& inner = n.children.front();
        const auto words = is_fuzzy_text(inner) ? fuzzy_words(inner.text) : std::vector<std::string>{};
        if (words.size() < 2) return convert(inner);
        k.kind = IK::or_;
        for (const auto& word : words) {
          SearchNode one = inner;
          one.text = word;
          auto c = convert(one);
          if (!c) return std::nullopt;
          k.children.push_back(std::move(*c));
        }
        return k;
      }
      case K::older: k.kind = IK::older; k.number = n.number; return k;
      case K::younger: k.kind = IK::younger; k.number = n.number; return k;
    }
    return k;
  }
};

bool uses_recent(const SearchNode& n) {
  if (n.kind == K::recent || n.kind == K::new_ || n.kind == K::old) return true;
  return std::any_of(n.children.begin(), n.children.end(), uses_recent);
}

}  // namespace

bool uses_modseq(const SearchNode& n) {
  if (n.kind == K::modseq) return true;
  return std::any_of(n.children.begin(), n.children.end(), uses_modseq);
}

storage::Result<storage::Modseq> highest_modseq_of(storage::FolderView& view, const std::vector<storage::Uid>& uids) {
  if (uids.empty()) return storage::Modseq{0};
  std::vector<storage::Uid> ascending = uids;
  std::sort(ascending.begin(), ascending.end());
  auto infos = view.messages(ascending);
  if (!infos) return std::unexpected(infos.error());
  storage::Modseq highest = 0;
  for (const auto& info : *infos) highest = std::max(highest, info.modseq);
  return highest;
}

std::pair<std::size_t, std::size_t> partial_slice(const PartialRange& range, std::size_t count) {
  const auto n = static_cast<std::int64_t>(count);
  const std::int64_t low = std::min(std::abs(range.first), std::abs(range.last));
  const std::int64_t high = std::max(std::abs(range.first), std::abs(range.last));
  // Positions counted from 1 at the first result, or from -1 at the last.
  std::int64_t begin = range.first > 0 ? low - 1 : n - high;
  std::int64_t end = range.first > 0 ? high : n - low + 1;
  begin = std::clamp<std::int64_t>(begin, 0, n);
  end = std::clamp<std::int64_t>(end, begin, n);
  return {static_cast<std::size_t>(begin), static_cast<std::size_t>(end)};
}

std::string esearch(ImapSession& s, const Request& r, const SearchReturns& returns,
                    const std::vector<std::uint32_t>& numbers, std::optional<storage::Modseq> highest,
                    std::string_view correlator, const std::vector<std::uint8_t>* scores) {
  // CONTEXT and UPDATE ask for no result (RFC 5267 §4); RETURN () and a
  // RETURN with only those means ALL (RFC 4731 §3.1).
  std::vector<SearchReturn> options;
  for (auto o : returns.options)
    if (o != SearchReturn::context && o != SearchReturn::update) options.push_back(o);
  if (options.empty()) options.push_back(SearchReturn::all);
  auto has = [&](SearchReturn x) { return std::find(options.begin(), options.end(), x) != options.end(); };
  std::size_t begin = 0, end = numbers.size();
  if (returns.partial) std::tie(begin, end) = partial_slice(*returns.partial, numbers.size());
  if (has(SearchReturn::save)) {
    // SEARCHRES (RFC 5182): $ is the set found, whatever its order; with
    // PARTIAL and no COUNT, only what the answer names (RFC 9394 §3.2).
    std::vector<std::uint32_t> saved;
    if (has(SearchReturn::partial) && !has(SearchReturn::count)) {
      saved.assign(numbers.begin() + static_cast<std::ptrdiff_t>(begin), numbers.begin() + static_cast<std::ptrdiff_t>(end));
      if (has(SearchReturn::min) && !numbers.empty()) saved.push_back(numbers.front());
      if (has(SearchReturn::max) && !numbers.empty()) saved.push_back(numbers.back());
    } else {
      saved = numbers;
    }
    s.saved_result.clear();
    for (auto n : saved) s.saved_result.push_back(r.uid ? n : s.view->uids()[n - 1]);
    std::sort(s.saved_result.begin(), s.saved_result.end());
    s.saved_result.erase(std::unique(s.saved_result.begin(), s.saved_result.end()), s.saved_result.end());
  }
  if (options.size() == 1 && has(SearchReturn::save)) return {};
  std::string out = "* ESEARCH (TAG ";
  append_string(out, r.tag);
  out += correlator;
  out += ")";
  if (r.uid) out += " UID";
  if (!numbers.empty()) {
    if (has(SearchReturn::min)) out += " MIN " + std::to_string(numbers.front());
    if (has(SearchReturn::max)) out += " MAX " + std::to_string(numbers.back());
    if (has(SearchReturn::all)) out += " ALL " + compact_set(numbers);
  }
  if (returns.partial) {
    // RFC 9394 §3.1: the range as asked, and NIL when no result lies in it.
    const auto& p = *returns.partial;
    out += " PARTIAL (" + std::to_string(p.first) + ":" + std::to_string(p.last) + " ";
    if (begin == end) {
      out += "NIL";
    } else {
      out += compact_set(std::vector<std::uint32_t>(numbers.begin() + static_cast<std::ptrdiff_t>(begin),
                                                    numbers.begin() + static_cast<std::ptrdiff_t>(end)));
    }
    out += ")";
  }
  if (has(SearchReturn::relevancy) && scores != nullptr) {
    // RFC 6203 §4: a score for each result the answer lists, in its order.
    out += " RELEVANCY (";
    for (std::size_t i = begin; i < end; ++i) {
      if (i > begin) out += ' ';
      out += std::to_string((*scores)[i]);
    }
    out += ')';
  }
  if (has(SearchReturn::count)) out += " COUNT " + std::to_string(numbers.size());
  if (highest) out += " MODSEQ " + std::to_string(*highest);  // RFC 7162 §3.1.10
  out += "\r\n";
  return out;
}

bool wants_update(const std::optional<SearchReturns>& returns) {
  return returns && std::find(returns->options.begin(), returns->options.end(), SearchReturn::update) !=
                        returns->options.end();
}

bool wants_relevancy(const std::optional<SearchReturns>& returns) {
  return returns && std::find(returns->options.begin(), returns->options.end(), SearchReturn::relevancy) !=
                        returns->options.end();
}

std::optional<Reply> check_update_tag(ImapSession& s, const Request& r) {
  for (const auto& context : s.update_contexts)
    if (context.tag == r.tag) return bad("[CLIENTBUG] Tag reuse: " + r.tag + " already receives updates");
  return std::nullopt;
}

std::string start_update(ImapSession& s, UpdateContext context) {
  if (s.update_contexts.size() >= ImapSession::kMaxUpdateContexts) {
    std::string line = "* NO [NOUPDATE ";
    append_string(line, context.tag);
    line += "] Too many update contexts, CANCELUPDATE one\r\n";
    return line;
  }
  s.update_contexts.push_back(std::move(context));
  return {};
}

std::optional<Reply> check_charset(const std::string& charset) {
  if (!charset.empty() && charset != "US-ASCII" && charset != "UTF-8")
    return no("[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
  return std::nullopt;
}

std::optional<index::SearchKey> index_key(ImapSession& s, const SearchNode& node, Reply& refusal) {
  std::vector<storage::Uid> recent;
  if (uses_recent(node)) recent = s.view->recent_uids();
  const SetResolver resolve = [&](const SequenceSet& set, bool uid) -> std::expected<std::vector<storage::Uid>, std::string> {
    auto uids = s.resolve(set, uid);
    if (!uids) return std::unexpected("[CLIENTBUG] Invalid message sequence number");
    return std::move(*uids);
  };
  return index_key_with(node, resolve, recent, refusal);
}

std::optional<index::SearchKey> index_key_with(const SearchNode& node, const SetResolver& resolve,
                                               const std::vector<storage::Uid>& recent, Reply& refusal) {
  Converter converter{resolve, recent, {}};
  auto key = converter.convert(node);
  if (!key) refusal = bad(converter.error);
  return key;
}

asio::awaitable<Reply> search(ImapSession& s, const Request& r) {
  const auto& sr = std::get<Search>(r.command);
  // RFC 6855 §3: after ENABLE UTF8=ACCEPT a SEARCH names no charset.
  if (s.utf8_accept && !sr.charset.empty()) co_return bad("No CHARSET after ENABLE UTF8=ACCEPT");
  if (auto refused = check_charset(sr.charset)) co_return *refused;
  const bool update = wants_update(sr.returns);
  if (update)
    if (auto refused = check_update_tag(s, r)) co_return *refused;
  const bool scored = wants_relevancy(sr.returns);
  if (scored && !uses_fuzzy(sr.key)) co_return bad("[CLIENTBUG] RELEVANCY needs a FUZZY search key");
  Reply refusal;
  auto key = index_key(s, sr.key, refusal);
  if (!key) co_return refusal;

  const bool with_modseq = uses_modseq(sr.key);
  if (with_modseq) co_await s.enable_condstore();
  storage::Result<std::vector<storage::Uid>> found;
  storage::Result<storage::Modseq> highest = storage::Modseq{0};
  storage::Result<std::vector<std::uint8_t>> scores;
  // RFC 7162 §3.1.10: when the answer is only MIN and/or MAX, its MODSEQ is
  // the highest of the messages it names, not of every match.
  const auto asked = [&](SearchReturn x) {
    return sr.returns && std::find(sr.returns->options.begin(), sr.returns->options.end(), x) != sr.returns->options.end();
  };
  const bool only_extremes = (asked(SearchReturn::min) || asked(SearchReturn::max)) && !asked(SearchReturn::all) &&
                             !asked(SearchReturn::count) && !asked(SearchReturn::partial) && !update;
  auto work = [&]() {
    found = s.view->search(*key);
    if (found && with_modseq) {
      // UIDs ascend, as do their sequence numbers: MIN is the first, MAX the last.
      std::vector<storage::Uid> named = *found;
      if (only_extremes && !found->empty()) {
        named.clear();
        if (asked(SearchReturn::min)) named.push_back(found->front());
        if (asked(SearchReturn::max)) named.push_back(found->back());
      }
      highest = highest_modseq_of(*s.view, named);
    }
    if (found && scored) scores = relevancy(s, sr.key, *found);
  };
  co_await s.blocking(work);
  if (!found) co_return storage_error(s, found.error());
  if (!highest) co_return storage_error(s, highest.error());
  if (!scores) co_return storage_error(s, scores.error());
  // RFC 7162 §3.1.5-3.1.6: the highest MODSEQ of a non-empty answer.
  const bool modseq_shown = with_modseq && !found->empty();

  std::vector<std::uint32_t> numbers = r.uid ? *found : s.view->sequences_of(*found);
  std::sort(numbers.begin(), numbers.end());

  // IMAP4rev2 answers ESEARCH always, ALL by default (RFC 9051 §6.4.4).
  if (!sr.returns && !s.rev2) {
    std::string out = "* SEARCH";
    append_numbers(out, numbers);
    if (modseq_shown) out += " (MODSEQ " + std::to_string(*highest) + ")";
    out += "\r\n";
    co_await s.send(out);
    co_return ok(r.uid ? "UID SEARCH completed" : "SEARCH completed");
  }
  // UIDs ascend, and so do their sequence numbers: the scores keep their places.
  const auto line = esearch(s, r, sr.returns.value_or(SearchReturns{}), numbers,
                            modseq_shown ? std::optional<storage::Modseq>(*highest) : std::nullopt, {},
                            scored ? &*scores : nullptr);
  if (!line.empty()) co_await s.send(line);
  if (update) {
    const std::string refused = start_update(
        s, UpdateContext{r.tag, r.uid, std::nullopt, std::move(*key), std::move(*found), sr.returns->update_fetch});
    if (!refused.empty()) co_await s.send(refused);
  }
  if (line.empty()) co_return ok("SEARCH completed, result saved");
  co_return ok(r.uid ? "UID SEARCH completed" : "SEARCH completed");
}

}  // namespace roost::imap::commands

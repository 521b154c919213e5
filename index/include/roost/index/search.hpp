// SEARCH, SORT and THREAD evaluated over a folder index (RFC 3501 §6.4.4,
// RFC 9051 §6.4.4, RFC 5256, RFC 5957, RFC 5032, RFC 7162).
//
// A search program is a tree of typed keys; sequence numbers, \Recent and
// $ (SEARCHRES) are the session's business and arrive here as UID sets.
// Every evaluation is limited to a given set of UIDs (the messages the
// session sees) and returns a subset of it, ascending.
//
// Text keys are case-insensitive substring matches under i;unicode-casemap
// (RFC 5051): both sides are casemapped and compared as bytes. The
// full-text index narrows the candidates; anything the index cannot decide
// exactly is confirmed against the text itself, so answers always equal
// those of a brute-force search.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "roost/index/folder_index.hpp"

namespace roost::index {

struct SearchKey {
  enum class Kind : std::uint8_t {
    all,
    and_,
    or_,
    not_,
    uids,          // uids
    flags,         // every bit of `flags` set (index::flag)
    keyword,       // text: keyword name
    larger,        // RFC822.SIZE > number
    smaller,       // RFC822.SIZE < number
    before, on, since,                    // INTERNALDATE's day vs day
    sent_before, sent_on, sent_since,     // Date: field's day vs day
    saved_before, saved_on, saved_since,  // SAVEDATE's day (RFC 8514)
    older, younger,  // INTERNALDATE at least / at most `number` seconds ago (RFC 5032)
    modseq,          // MODSEQ >= number (RFC 7162)
    email_id,        // text: EMAILID (RFC 8474, object_id.hpp)
    thread_id,       // text: THREADID
    header,          // field name, text ("" matches any message with the field)
    body,            // text
    text,            // text, in the header or the body
  };
  Kind kind = Kind::all;
  std::vector<SearchKey> children;
  std::uint32_t flags = 0;
  std::uint64_t number = 0;
  std::int64_t day = 0;  // days since 1970-01-01 (UTC)
  std::string field;
  std::string text;
  std::vector<Uid> uids;  // ascending
};

struct SearchContext {
  std::int64_t now = 0;  // seconds since 1970, for OLDER and YOUNGER
  // The casemapped body text of a message (storage reads and decodes the
  // file); nullopt when the message is gone.
  std::function<std::optional<std::string>(Uid)> body_text;
  // The raw top-level header block, when the cache holds only part of it.
  std::function<std::optional<std::string>(Uid)> header_block;
};

std::expected<std::vector<Uid>, LmdbError> search_messages(const Txn& txn, const SearchKey& key,
                                                  const std::vector<Uid>& within, const SearchContext& context);

// The text a BODY search looks at, casemapped: what storage hands back
// through SearchContext::body_text.
std::string body_search_text(std::string_view message);

struct SortCriterion {
  SortKind kind = SortKind::arrival;
  bool reverse = false;
};

// `uids` ordered by the criteria; ties by UID (that is, by sequence number).
std::expected<std::vector<Uid>, LmdbError> sort_messages(const Txn& txn, const std::vector<SortCriterion>& criteria,
                                                const std::vector<Uid>& uids);

enum class ThreadAlgorithm { ordered_subject, references, refs };

struct ThreadNode {
  Uid uid = 0;  // 0: a placeholder for a missing parent (RFC 5256 dummy)
  std::vector<ThreadNode> children;
};

// Threads of `uids` (RFC 5256 §3; REFS as draft-ietf-morg-inthread).
std::expected<std::vector<ThreadNode>, LmdbError> thread_messages(const Txn& txn, ThreadAlgorithm algorithm,
                                                         const std::vector<Uid>& uids);

}  // namespace roost::index

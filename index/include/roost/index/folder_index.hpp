// The index of one folder: an LMDB environment in the folder's directory
// holding, per message, everything IMAP asks about it, computed once when
// the message arrives (DESIGN.md, issue 4):
//
//   meta      "state" -> FolderMeta (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ,
//             counters, keyword names, sync marks)
//   msgs      uid (be32) -> MessageRecord (flags, dates, sizes, modseq, file)
//   names     file key (the maildir base name) -> uid (be32)
//   cache     uid -> MessageCache (ENVELOPE, BODY, BODYSTRUCTURE, part
//             offsets, preview, header block, decoded headers)
//   keys      uid -> MessageKeys (sort and thread keys)
//   sort      kind (1) + key + uid (be32) -> "" : every sort order, scanned
//             (a pending message's entries are made from its keys)
//   terms     field (1) + word -> uids (dupsort): the full-text index
//   pending   uid -> its words; a pending message has neither terms nor
//             sort entries yet: a delivery writes one value instead of a
//             page per word and per sort order; merges move many
//             messages' at once (merge_pending)
//   flags     flag id (be32) -> uids (dupsort): \Seen, \Deleted, keywords...
//   modseq    modseq (be64) -> uids (dupsort): last change of each message
//   expunged  modseq (be64) -> uids (dupsort): for VANISHED and CHANGEDSINCE
//
// The index is a cache: storage can delete it and rebuild it from the
// maildir and the UID list at any time. It does not interpret file keys.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/index/lmdb.hpp"

namespace roost::index {

using Uid = std::uint32_t;
using Modseq = std::uint64_t;

// System flags as bits. \Recent is not stored per message: FolderMeta's
// first_recent says which UIDs are recent for the next session.
namespace flag {
inline constexpr std::uint32_t answered = 1u << 0;
inline constexpr std::uint32_t flagged = 1u << 1;
inline constexpr std::uint32_t deleted = 1u << 2;
inline constexpr std::uint32_t seen = 1u << 3;
inline constexpr std::uint32_t draft = 1u << 4;
inline constexpr unsigned system_count = 5;
}  // namespace flag

// Keywords per folder: Dovecot's maildir letters a-z carry at most 26, and
// only what the file names carry survives an index rebuild.
inline constexpr unsigned kMaxKeywords = 26;

enum Db : unsigned { meta, msgs, names, cache, keys, sort, terms, flags, modseq, expunged, pending, db_count };

EnvOptions folder_env_options();

struct FolderMeta {
  std::uint32_t uidvalidity = 0;
  Uid uidnext = 1;
  Modseq highest_modseq = 0;
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;
  std::uint32_t deleted = 0;
  std::uint64_t size = 0;   // sum of RFC822.SIZE
  Uid first_recent = 1;     // UIDs from here on are \Recent for the next session to claim them
  std::uint32_t recent = 0;  // messages with UIDs from first_recent on
  std::vector<std::string> keywords;  // index = keyword bit
  // Sync marks: where the UID list and the maildir directories stood when
  // the index last matched them.
  std::uint64_t uidlist_inode = 0;
  std::uint64_t uidlist_offset = 0;
  std::int64_t new_mtime_ns = 0;
  std::int64_t cur_mtime_ns = 0;
  // MODSEQs up to here are reserved in a file beside the maildir, so that a
  // rebuilt index never hands out a MODSEQ a client has already seen.
  Modseq modseq_reserved = 0;
  // The expunged database holds every expunge after this MODSEQ: an index
  // started again (rebuild, damage, new UIDVALIDITY) knows none before it.
  Modseq expunges_since = 0;
};

struct MessageRecord {
  Uid uid = 0;
  std::uint32_t flags = 0;
  std::uint64_t keywords = 0;  // bit i: FolderMeta::keywords[i]
  std::int64_t internal_date = 0;  // seconds since 1970
  std::int64_t save_date = 0;
  std::uint64_t size = 0;   // bytes in the file
  std::uint64_t vsize = 0;  // with CRLF line ends: RFC822.SIZE
  Modseq modseq = 0;
  bool in_new = false;      // the file is in new/, not cur/
  std::string file_name;    // current name in its directory
  std::string file_key;     // stable identity (maildir base name)
  // The message's identity across copies (a copy keeps its source's, as
  // Dovecot's uidlist `G` field does); empty: file_key.
  std::string guid;
  // The POP3 UIDL a migration recorded in the UID list (`P`); empty: the
  // configured format applies.
  std::string pop3_uidl;
  const std::string& identity() const { return guid.empty() ? file_key : guid; }
};

// One MIME part's place in the file, in pre-order; enough to serve
// BODY[section], BINARY[section] and BINARY.SIZE without parsing again.
struct PartInfo {
  std::uint64_t header_begin = 0, header_end = 0, header_wire = 0;
  std::uint64_t body_begin = 0, body_end = 0, body_wire = 0;
  std::uint64_t decoded_size = 0;  // after transfer decoding (RFC 3516)
  std::uint32_t children = 0;      // direct children, which follow in pre-order
  std::uint8_t kind = 0;           // part_kind bits
  std::string encoding;            // Content-Transfer-Encoding, lower case
};
namespace part_kind {
inline constexpr std::uint8_t multipart = 1;
inline constexpr std::uint8_t message = 2;  // message/rfc822 or message/global parsed inside
inline constexpr std::uint8_t text = 4;
}  // namespace part_kind

struct MessageCache {
  std::string envelope;        // RFC 9051 §7.5.2 ENVELOPE
  std::string body;            // BODY (non-extensible BODYSTRUCTURE)
  std::string body_structure;  // BODYSTRUCTURE with extension data
  // The IMAP4rev1 forms of both, only for messages whose forms differ
  // (a message/global part: docs/imap-renderings.md); empty otherwise.
  std::string body_rev1;
  std::string body_structure_rev1;
  std::string preview;         // RFC 8970
  std::string header;          // the top-level header block, raw, when small enough
  bool header_complete = false;  // `header` holds the whole header block
  std::string search_headers;  // casemapped "name: decoded value\n" lines
  std::vector<PartInfo> parts;
};

struct MessageKeys {
  std::int64_t sent_date = 0;  // Date: or else INTERNALDATE (RFC 5256 §2.2)
  // The Date: field's day as written, in its own zone (SENTON and the like,
  // RFC 3501 §6.4.4), as days since 1970; without one, INTERNALDATE's UTC day.
  std::int64_t sent_day = 0;
  std::string from, to, cc;    // casemapped first mailbox
  std::string display_from, display_to;  // casemapped display names
  std::string subject;         // casemapped base subject
  bool subject_reply = false;  // RFC 5256 §2.1: a Re:/Fwd: was removed
  std::string message_id;
  std::vector<std::string> references;  // References, or else In-Reply-To
};

// The part of MessageKeys THREAD needs, as views into a transaction's
// data (valid until the transaction ends): no copies for 100k messages.
struct ThreadKeys {
  std::int64_t sent_date = 0;
  std::string_view subject;
  bool subject_reply = false;
  std::string_view message_id;
  std::vector<std::string_view> references;
};

// What a new message contributes to the index, computed from its bytes.
struct MessageAnalysis {
  MessageCache cache;
  MessageKeys keys;
  std::vector<std::string> body_terms;    // distinct casemapped words of the body text
  std::vector<std::string> header_terms;  // distinct casemapped words of the decoded headers
  std::uint64_t vsize = 0;
};
MessageAnalysis analyze(std::string_view data, std::int64_t internal_date);
// Its `vsize` alone, at a fraction of the cost (the file name needs it
// before the analysis is done).
std::uint64_t vsize_of(std::string_view data);

// Splits casemapped text into the words the full-text index keeps: maximal
// runs of ASCII letters and digits and non-ASCII bytes.
std::vector<std::string_view> words(std::string_view casemapped);

// sent_day is no client's sort order: it answers SENTBEFORE/SENTON/SENTSINCE.
enum class SortKind : std::uint8_t { arrival = 1, date, from, to, cc, subject, size, display_from, display_to, sent_day };
// The key bytes a message has in one sort order (truncated to what fits an LMDB key).
std::string sort_key(SortKind kind, const MessageRecord& record, const MessageKeys& keys);

namespace term_field {
inline constexpr char body = 'b';
inline constexpr char header = 'h';
}  // namespace term_field

std::string flag_key(unsigned flag_id);  // 0..4 system flags, 32 + n keyword n

// Reads and writes inside transactions of a folder environment.
std::expected<FolderMeta, LmdbError> read_meta(const Txn& txn);  // defaults when new
std::expected<void, LmdbError> write_meta(Txn& txn, const FolderMeta& meta);

std::expected<std::optional<MessageRecord>, LmdbError> find_record(const Txn& txn, Uid uid);
std::expected<std::optional<Uid>, LmdbError> find_uid(const Txn& txn, std::string_view file_key);
// What of a MessageCache to decode: a FETCH of ENVELOPE for 100,000
// messages copies no header blocks.
namespace cache_field {
inline constexpr unsigned envelope = 1;
inline constexpr unsigned body = 2;            // with body_rev1
inline constexpr unsigned body_structure = 4;  // with body_structure_rev1
inline constexpr unsigned preview = 8;
inline constexpr unsigned header = 16;         // header, header_complete
inline constexpr unsigned search_headers = 32;
inline constexpr unsigned parts = 64;
inline constexpr unsigned all = 127;
}  // namespace cache_field
std::expected<std::optional<MessageCache>, LmdbError> find_cache(const Txn& txn, Uid uid,
                                                                 unsigned fields = cache_field::all);
std::expected<std::optional<MessageKeys>, LmdbError> find_keys(const Txn& txn, Uid uid);
// Decodes a value of the keys database; false when it is garbled.
bool decode_thread_keys(std::string_view value, ThreadKeys& out);

// Every record with uid >= from, in UID order, until `visit` returns false.
std::expected<void, LmdbError> for_each_record(const Txn& txn, Uid from,
                                               const std::function<bool(const MessageRecord&)>& visit);

// Adds a message; record.uid and record.modseq must be set by the caller.
std::expected<void, LmdbError> insert(Txn& txn, FolderMeta& meta, const MessageRecord& record,
                                      const MessageAnalysis& analysis);
// Replaces a record's flags, keywords or file name; gives it `modseq`
// when flags or keywords changed.
std::expected<void, LmdbError> update(Txn& txn, FolderMeta& meta, const MessageRecord& before,
                                      const MessageRecord& after);
// Removes a message, remembering its UID as expunged at `modseq`.
std::expected<void, LmdbError> remove(Txn& txn, FolderMeta& meta, const MessageRecord& record,
                                      Modseq modseq);

// Moves the words of up to `limit` messages from pending into terms, and
// writes their sort entries. Returns how many messages were merged.
std::expected<std::size_t, LmdbError> merge_pending(Txn& txn, std::size_t limit);
// Messages whose words wait in pending.
std::size_t pending_count(const Txn& txn);
// The sort entries of `kind` (as in the sort database) that the pending
// messages will have, in key order, each with its UID.
std::expected<std::vector<std::pair<std::string, Uid>>, LmdbError> pending_sort_entries(const Txn& txn,
                                                                                       SortKind kind);
// Calls `visit(uid, words)` for each pending message; `words` holds
// field-prefixed words, each a view into the transaction's data.
std::expected<void, LmdbError> for_each_pending(
    const Txn& txn, const std::function<void(Uid, const std::vector<std::string_view>&)>& visit);

// Empties every database of the folder index (a rebuild starts here).
std::expected<void, LmdbError> clear(Txn& txn);

// UIDs whose last change is after `since`, and UIDs expunged after it.
struct Changes {
  std::vector<Uid> changed;   // ascending
  std::vector<Uid> expunged;  // ascending
};
std::expected<Changes, LmdbError> changes_since(const Txn& txn, Modseq since);

// UIDs carrying a flag, ascending.
std::expected<std::vector<Uid>, LmdbError> uids_with_flag(const Txn& txn, unsigned flag_id);

std::string encode(const MessageRecord& record);
std::optional<MessageRecord> decode_record(std::string_view bytes);

}  // namespace roost::index

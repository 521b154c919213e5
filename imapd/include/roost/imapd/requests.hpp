// IMAP commands as typed values (RFC 3501 §6, RFC 9051 §6 and the
// extensions imapd implements). The parser (syntax.hpp) produces them; the
// session executes them and never looks at the client's bytes again.
//
// Sequence sets, mailbox names and flags are kept as the client wrote them
// (mailbox names still in modified UTF-7): what they mean depends on the
// session (the selected folder's size, UTF8=ACCEPT), which syntax does not
// know.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace roost::imap {

// A sequence set (RFC 9051 §9 sequence-set): ranges in the order given,
// with `*` as kStar; `$` (RFC 5182 SEARCHRES) as `saved`. kStar lies above
// every number a client can write (they end at 4294967295), so that `*`
// and 4294967295 stay distinct through resolution.
inline constexpr std::uint64_t kStar = std::uint64_t{1} << 32;
struct SeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // as written: may be below `first`, or kStar
};
struct SequenceSet {
  std::vector<SeqRange> ranges;
  bool saved = false;
};

enum class StatusItem : std::uint8_t {
  messages, recent, uidnext, uidvalidity, unseen, deleted, size, highestmodseq,
  mailboxid,  // RFC 8474 §4.3
};

// SEARCH keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4), sequence sets unresolved.
struct SearchNode {
  enum class Kind : std::uint8_t {
    all, and_, or_, not_,
    sequence, uid,                    // set
    answered, deleted, draft, flagged, seen,
    unanswered, undeleted, undraft, unflagged, unseen,
    recent, new_, old,                // IMAP4rev1 only in meaning; accepted in both
    keyword, unkeyword,               // text
    larger, smaller,                  // number
    before, on, since,                // day
    sent_before, sent_on, sent_since, // day
    saved_before, saved_on, saved_since, // day (RFC 8514 SAVEDATE)
    savedate_supported,               // RFC 8514 §4.3: every message of a folder with save dates
    header,                           // field, text
    body, text,                       // text
    modseq,                           // number (RFC 7162 §3.1.5; entry name and type ignored)
    older, younger,                   // number: seconds (RFC 5032 WITHIN)
    emailid, threadid,                // text: an objectid (RFC 8474 §6)
    fuzzy,                            // children[0] matched inexactly (RFC 6203 §3)
  };
  Kind kind = Kind::all;
  std::vector<SearchNode> children;
  SequenceSet set;
  std::string field;
  std::string text;
  std::uint64_t number = 0;
  std::int64_t day = 0;  // days since 1970-01-01
};

// BODY[section] and BINARY[section] (RFC 9051 §6.4.5, RFC 3516).
struct Section {
  std::vector<std::uint32_t> part;  // "1.2.3"; empty: the whole message
  enum class Text : std::uint8_t { none, header, header_fields, header_fields_not, text, mime };
  Text text = Text::none;
  std::vector<std::string> fields;  // for header_fields(_not), as written
};
struct Partial {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct FetchItem {
  enum class Kind : std::uint8_t {
    flags, internaldate, rfc822_size, envelope, body, bodystructure, uid,
    rfc822, rfc822_header, rfc822_text,
    body_section,  // BODY[...] / BODY.PEEK[...]
    binary,        // BINARY[...] / BINARY.PEEK[...]
    binary_size,   // BINARY.SIZE[...]
    preview,       // RFC 8970
    savedate,      // RFC 8514
    modseq,        // RFC 7162
    emailid, threadid,  // RFC 8474
  };
  Kind kind = Kind::flags;
  bool peek = false;
  Section section;
  std::optional<Partial> partial;
  bool lazy = false;  // PREVIEW (LAZY)
};

// CONTEXT and UPDATE are RFC 5267 §4's: a hint, and a request for ADDTO and
// REMOVEFROM updates; neither asks for results of its own.
// RELEVANCY is RFC 6203 §4's: a score per result, with a FUZZY key only.
enum class SearchReturn : std::uint8_t { min, max, all, count, save, partial, context, update, relevancy };
// PARTIAL's range as written (RFC 9394 §4): both ends positive (counted from
// the first result) or both negative (from the last), in either order.
struct PartialRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
};
// RETURN (...) of SEARCH and SORT (RFC 4731, RFC 5267, RFC 9394).
struct SearchReturns {
  std::vector<SearchReturn> options;
  std::optional<PartialRange> partial;  // with SearchReturn::partial
  // UPDATE (fetch-att ...) (RFC 5465 §7): what to FETCH of each new message
  // that joins the result.
  std::vector<FetchItem> update_fetch;
};

struct Capability {};
struct Noop {};
struct Logout {};
struct StartTls {};
struct Authenticate {
  std::string mechanism;                // upper case
  std::optional<std::string> initial;   // SASL-IR, base64 as sent ("=" is empty)
};
struct Login {
  std::string user;
  std::string password;
};
struct Enable {
  std::vector<std::string> capabilities;  // upper case
};
struct Id {
  // NIL, or field/value pairs (a value may be NIL).
  std::optional<std::vector<std::pair<std::string, std::optional<std::string>>>> fields;
};
// SELECT's (QRESYNC (...)) parameter, RFC 7162 §3.2.5.
struct Qresync {
  std::uint32_t uidvalidity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
  // Message sequence match data: sequence numbers and the UIDs the client
  // knows them by, pair by pair.
  std::optional<std::pair<SequenceSet, SequenceSet>> sequence_match;
};
struct Select {
  std::string mailbox;
  bool read_only = false;  // EXAMINE
  bool condstore = false;  // (CONDSTORE), RFC 7162 §3.1.8
  std::optional<Qresync> qresync;
};
struct Create {
  std::string mailbox;
  std::vector<std::string> uses;  // RFC 6154 USE (\Drafts ...), as written
};
struct Delete {
  std::string mailbox;
};
struct Rename {
  std::string from;
  std::string to;
};
struct Subscribe {
  std::string mailbox;
  bool subscribe = true;  // false: UNSUBSCRIBE
};
struct List {
  enum class Form : std::uint8_t { list, lsub, xlist };
  Form form = Form::list;
  bool extended = false;  // selection options, several patterns or RETURN given
  std::vector<std::string> selection;  // upper case: SUBSCRIBED REMOTE RECURSIVEMATCH SPECIAL-USE
  std::string reference;
  std::vector<std::string> patterns;
  std::vector<std::string> returns;    // upper case: SUBSCRIBED CHILDREN SPECIAL-USE STATUS
  std::vector<StatusItem> status;      // RETURN (STATUS (...)), RFC 5819
  std::vector<std::string> metadata;   // RETURN (METADATA (entries)), RFC 9590
};
struct Namespace {};
struct Status {
  std::string mailbox;
  std::vector<StatusItem> items;
};
// A CATENATE part (RFC 4469 §5): TEXT bytes, or the URL of a message or
// message part (RFC 5092) whose bytes go in its place.
struct CatenatePart {
  bool url = false;
  std::string data;  // the bytes, or the URL as written
};
struct AppendMessage {
  std::vector<std::string> flags;
  std::optional<std::int64_t> internal_date;  // seconds since 1970
  std::string data;
  bool binary = false;  // literal8 (RFC 3516 §4.4)
  bool utf8 = false;    // UTF8 (literal8): may carry UTF-8 header fields (RFC 6855 §4)
  std::vector<CatenatePart> catenate;  // CATENATE (...): the message is these, in order
};
struct Append {
  std::string mailbox;
  std::vector<AppendMessage> messages;  // several with MULTIAPPEND (RFC 3502)
};
// REPLACE / UID REPLACE (RFC 8508): append `message` to `mailbox`, then
// remove the selected folder's message `number` (a UID with UID REPLACE).
struct Replace {
  std::uint32_t number = 0;
  std::string mailbox;
  AppendMessage message;
};
// GETMETADATA and SETMETADATA (RFC 5464). Mailbox "" names the server
// entries; entry names are checked by the parser (§3.2).
enum class MetadataDepth : std::uint8_t { zero, one, infinity };
struct GetMetadata {
  std::string mailbox;
  std::optional<std::uint64_t> max_size;  // MAXSIZE (§4.2.1)
  MetadataDepth depth = MetadataDepth::zero;  // DEPTH (§4.2.2)
  std::vector<std::string> entries;
};
struct SetMetadata {
  std::string mailbox;
  std::vector<std::pair<std::string, std::optional<std::string>>> entries;  // NIL removes
};
// CANCELUPDATE (RFC 5267 §4.3.5): the tags of the searches to stop updating.
struct CancelUpdate {
  std::vector<std::string> tags;
};
struct Check {};
struct Close {};
struct Unselect {};
struct Expunge {
  std::optional<SequenceSet> uids;  // UID EXPUNGE (RFC 4315)
};
struct Search {
  std::string charset;  // upper case; empty when not given
  std::optional<SearchReturns> returns;  // RETURN (...) given (RFC 4731)
  SearchNode key;
};
struct Fetch {
  SequenceSet set;
  std::vector<FetchItem> items;
  std::optional<std::uint64_t> changed_since;  // (CHANGEDSINCE n), RFC 7162 §3.1.4.1
  bool vanished = false;                       // (... VANISHED), RFC 7162 §3.2.6
  std::optional<PartialRange> partial;         // (PARTIAL range), RFC 9394 §3.3
};
enum class StoreMode : std::uint8_t { replace, add, remove };
struct Store {
  SequenceSet set;
  std::optional<std::uint64_t> unchanged_since;  // (UNCHANGEDSINCE n), RFC 7162 §3.1.3
  StoreMode mode = StoreMode::replace;
  bool silent = false;
  std::vector<std::string> flags;
};
struct Copy {
  SequenceSet set;
  std::string mailbox;
  bool move = false;  // MOVE (RFC 6851)
};
struct Idle {};
struct GetQuota {
  std::string root;
};
struct GetQuotaRoot {
  std::string mailbox;
};
struct SetQuota {
  std::string root;
  std::vector<std::pair<std::string, std::uint64_t>> limits;  // resource name upper case
};
struct Unauthenticate {};
// SORT (RFC 5256, with RFC 5957's DISPLAYFROM and DISPLAYTO).
enum class SortKey : std::uint8_t { arrival, cc, date, from, size, subject, to, display_from, display_to,
                                    relevancy };  // RFC 6203 §6
struct SortCriterion {
  SortKey key = SortKey::arrival;
  bool reverse = false;
};
struct Sort {
  std::optional<SearchReturns> returns;  // RETURN (...) given (RFC 5267 ESORT)
  std::vector<SortCriterion> criteria;
  std::string charset;  // upper case
  SearchNode key;
};
// THREAD (RFC 5256; REFS from draft-ietf-morg-inthread).
enum class ThreadAlgorithm : std::uint8_t { ordered_subject, references, refs };
struct Thread {
  ThreadAlgorithm algorithm = ThreadAlgorithm::references;
  std::string charset;  // upper case
  SearchNode key;
};

// COMPRESS (RFC 4978).
struct Compress {
  std::string mechanism;  // upper case
};

// ESEARCH (RFC 7377 MULTISEARCH): a SEARCH over the mailboxes that the
// filters of RFC 5465 §6 (and RFC 7377's "subtree-one") choose.
struct MailboxFilter {
  enum class Kind : std::uint8_t { selected, selected_delayed, inboxes, personal, subscribed, subtree, subtree_one, mailboxes };
  Kind kind = Kind::selected;
  std::vector<std::string> mailboxes;  // subtree, subtree-one, mailboxes: as written
};
struct MultiSearch {
  std::vector<MailboxFilter> sources;  // empty: the selected mailbox
  Search search;
};
// NOTIFY (RFC 5465 §3.1, §8): NONE, or SET [STATUS] and event groups.
enum class NotifyEvent : std::uint8_t {
  message_new, message_expunge, flag_change, annotation_change,  // message events
  mailbox_name, subscription_change, mailbox_metadata_change,    // mailbox events
  server_metadata_change,                                        // the user event
};
struct NotifyGroup {
  MailboxFilter filter;                      // never subtree_one
  std::vector<NotifyEvent> events;           // empty: NONE
  std::vector<std::string> unknown_events;   // event-ext atoms, as written
  std::vector<FetchItem> new_message_items;  // MessageNew (fetch-att ...): SELECTED(-DELAYED) only
};
struct Notify {
  bool none = false;    // NOTIFY NONE
  bool status = false;  // SET STATUS
  std::vector<NotifyGroup> groups;
};
using Command = std::variant<Capability, Noop, Logout, StartTls, Authenticate, Login, Enable, Id, Select,
                             Create, Delete, Rename, Subscribe, List, Namespace, Status, Append, Check,
                             Close, Unselect, Expunge, Search, Fetch, Store, Copy, Idle, GetQuota,
                             GetQuotaRoot, SetQuota, Unauthenticate, Sort, Thread, Compress, Replace,
                             GetMetadata, SetMetadata, CancelUpdate, MultiSearch, Notify>;

struct Request {
  std::string tag;
  bool uid = false;  // UID FETCH/STORE/COPY/MOVE/SEARCH/SORT/THREAD/EXPUNGE/REPLACE: numbers are UIDs
  Command command;
};

}  // namespace roost::imap

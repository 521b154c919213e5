// The command handlers, one file each under commands/ (mailbox.cpp holds
// CREATE, DELETE, RENAME and (UN)SUBSCRIBE, which are one call each). The
// table in imap_service.cpp says in which states each may run.
#pragma once

#include <functional>

#include "../session.hpp"
#include "roost/core/session_auth.hpp"

namespace roost::imap::commands {

asio::awaitable<Reply> capability(ImapSession& s, const Request& r);
asio::awaitable<Reply> noop(ImapSession& s, const Request& r);
asio::awaitable<Reply> logout(ImapSession& s, const Request& r);
asio::awaitable<Reply> starttls(ImapSession& s, const Request& r);
asio::awaitable<Reply> authenticate(ImapSession& s, const Request& r);
asio::awaitable<Reply> login(ImapSession& s, const Request& r);
asio::awaitable<Reply> enable(ImapSession& s, const Request& r);
asio::awaitable<Reply> id(ImapSession& s, const Request& r);
asio::awaitable<Reply> select(ImapSession& s, const Request& r);
asio::awaitable<Reply> create(ImapSession& s, const Request& r);
asio::awaitable<Reply> remove(ImapSession& s, const Request& r);
asio::awaitable<Reply> rename(ImapSession& s, const Request& r);
asio::awaitable<Reply> subscribe(ImapSession& s, const Request& r);
asio::awaitable<Reply> list(ImapSession& s, const Request& r);
asio::awaitable<Reply> namespace_(ImapSession& s, const Request& r);
asio::awaitable<Reply> status(ImapSession& s, const Request& r);
asio::awaitable<Reply> append(ImapSession& s, const Request& r);
asio::awaitable<Reply> replace(ImapSession& s, const Request& r);
// A message of APPEND or REPLACE for storage, or the refusal (an empty
// message, a flag that cannot be stored, 8-bit header fields in a session
// that did not enable UTF-8 when [imap] strict_utf8_headers asks for that).
std::expected<storage::NewMessage, Reply> new_message(const ImapSession& s, const AppendMessage& m, std::string data);
// A CATENATE message (RFC 4469) put together from its parts, or the refusal
// (NO [BADURL url], NO [TOOBIG]); at most `left` bytes, which it lowers by
// what it built (one budget for a whole APPEND).
asio::awaitable<std::expected<std::string, Reply>> catenated(ImapSession& s, const AppendMessage& m,
                                                            std::uint64_t& left);
asio::awaitable<Reply> close(ImapSession& s, const Request& r);
asio::awaitable<Reply> expunge(ImapSession& s, const Request& r);
asio::awaitable<Reply> search(ImapSession& s, const Request& r);
asio::awaitable<Reply> fetch(ImapSession& s, const Request& r);
asio::awaitable<Reply> store(ImapSession& s, const Request& r);
asio::awaitable<Reply> copy(ImapSession& s, const Request& r);
asio::awaitable<Reply> idle(ImapSession& s, const Request& r);
asio::awaitable<Reply> quota(ImapSession& s, const Request& r);
// Listed in [mail] quota_admins: may SETQUOTA (CAPABILITY QUOTASET).
bool is_quota_admin(const ImapSession& s);
asio::awaitable<Reply> unauthenticate(ImapSession& s, const Request& r);
asio::awaitable<Reply> sort(ImapSession& s, const Request& r);
asio::awaitable<Reply> thread(ImapSession& s, const Request& r);
asio::awaitable<Reply> compress(ImapSession& s, const Request& r);
asio::awaitable<Reply> getmetadata(ImapSession& s, const Request& r);
// "* METADATA mailbox (entry value ...)" (RFC 5464 §4.4.1) for the entries
// `wanted` names (NIL for those that do not exist), as GETMETADATA and LIST
// RETURN (METADATA) (RFC 9590) answer; values over `max_size` are left out
// and the largest of them noted in `longest_left_out`.
std::string metadata_line(ImapSession& s, std::string_view wire_mailbox, const std::vector<storage::Annotation>& entries,
                          const std::vector<std::string>& wanted, MetadataDepth depth,
                          std::optional<std::uint64_t> max_size, std::uint64_t& longest_left_out);
asio::awaitable<Reply> setmetadata(ImapSession& s, const Request& r);

// After AUTHENTICATE or LOGIN: opens the user's mail and enters the
// authenticated state, or says why not.
asio::awaitable<Reply> finish_login(ImapSession& s, const AuthOutcome& outcome);

// What STATUS reports of a folder: its counters, and its MAILBOXID when
// asked for (RFC 8474 §4.3). Blocking: for the pool.
struct FolderReport {
  storage::FolderStatus counters;
  std::string mailbox_id;
};
storage::Result<FolderReport> folder_report(ImapSession& s, std::string_view name,
                                            const std::vector<StatusItem>& items);
// "* STATUS name (items)".
std::string status_line(ImapSession& s, std::string_view name, const FolderReport& report,
                        const std::vector<StatusItem>& items);

// A SEARCH program in the index's terms, with sequence sets, \Recent and $
// resolved for this session; nullopt with `refusal` set when it cannot be.
std::optional<index::SearchKey> index_key(ImapSession& s, const SearchNode& node, Reply& refusal);
// The same with sequence sets resolved by `resolve` (UIDs ascending, or the
// BAD text) and \Recent given: for searching a folder other than the
// selected one (MULTISEARCH).
using SetResolver =
    std::function<std::expected<std::vector<storage::Uid>, std::string>(const SequenceSet& set, bool uid)>;
std::optional<index::SearchKey> index_key_with(const SearchNode& node, const SetResolver& resolve,
                                               const std::vector<storage::Uid>& recent, Reply& refusal);
// NO [BADCHARSET] unless the charset is empty, US-ASCII or UTF-8.
std::optional<Reply> check_charset(const std::string& charset);
// Whether a SEARCH program holds a MODSEQ criterion (RFC 7162 §3.1.5): then
// SEARCH and SORT answers end with the highest MODSEQ of what they found.
bool uses_modseq(const SearchNode& node);
// The ESEARCH answer of SEARCH RETURN (RFC 4731) and SORT RETURN (RFC 5267
// ESORT): `numbers` are what the client sees, in answer order (ascending for
// SEARCH, sort order for SORT), so MIN and MAX are the first and last and
// PARTIAL counts positions in that order (RFC 9394); `highest` the MODSEQ to
// append, if any. Empty when SAVE was the only option (nothing to send).
// `correlator` goes after the tag (MULTISEARCH's " MAILBOX m UIDVALIDITY n").
// `scores` (RELEVANCY, RFC 6203 §4) go with `numbers`, position by position.
std::string esearch(ImapSession& s, const Request& r, const SearchReturns& returns,
                    const std::vector<std::uint32_t>& numbers, std::optional<storage::Modseq> highest,
                    std::string_view correlator = {}, const std::vector<std::uint8_t>* scores = nullptr);
// The positions [begin, end) of `count` results that a PARTIAL range names.
std::pair<std::size_t, std::size_t> partial_slice(const PartialRange& range, std::size_t count);
// RETURN (UPDATE) (RFC 5267 §4.3): whether it was asked for; BAD when the
// command's tag already names an update context; the context registered
// (and "") or, when the session has as many as it may, the
// "* NO [NOUPDATE tag]" line to send.
bool wants_update(const std::optional<SearchReturns>& returns);
bool wants_relevancy(const std::optional<SearchReturns>& returns);
std::optional<Reply> check_update_tag(ImapSession& s, const Request& r);
std::string start_update(ImapSession& s, UpdateContext context);
asio::awaitable<Reply> cancelupdate(ImapSession& s, const Request& r);
asio::awaitable<Reply> multisearch(ImapSession& s, const Request& r);
asio::awaitable<Reply> notify(ImapSession& s, const Request& r);
// SEARCH=FUZZY (RFC 6203, fuzzy.cpp): whether a program holds a FUZZY key;
// the words a FUZZY text key matches separately; and the relevancy (1-100)
// of each of `uids` in the selected folder, in their order. Blocking.
bool uses_fuzzy(const SearchNode& node);
bool is_fuzzy_text(const SearchNode& node);
std::vector<std::string> fuzzy_words(std::string_view text);
storage::Result<std::vector<std::uint8_t>> relevancy(ImapSession& s, const SearchNode& program,
                                                     const std::vector<storage::Uid>& uids);
// The highest MODSEQ among `uids` (0 when none); runs on the blocking pool.
storage::Result<storage::Modseq> highest_modseq_of(storage::FolderView& view, const std::vector<storage::Uid>& uids);

// The capability list for this session now (before or after login, with
// or without TLS).
asio::awaitable<std::string> capabilities(ImapSession& s);

}  // namespace roost::imap::commands

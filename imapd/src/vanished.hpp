// What QRESYNC (RFC 7162 §3.2) reports as vanished: for SELECT (QRESYNC
// ...) and UID FETCH (CHANGEDSINCE n VANISHED), the UIDs among those a
// client names that were expunged after a MODSEQ it knows.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "roost/imapd/requests.hpp"
#include "roost/storage/storage.hpp"

namespace roost::imap {

using UidRanges = std::vector<std::pair<storage::Uid, storage::Uid>>;  // ascending, disjoint

// A UID set as ascending, merged ranges, with `*` as `star`.
UidRanges uid_ranges(const SequenceSet& set, storage::Uid star);
bool contains(const UidRanges& ranges, storage::Uid uid);

// The highest UID the client's message sequence match data proves it
// already knows every expunge up to (RFC 7162 §3.2.5.2): pairs are compared
// in order until the first that does not match the view (or a set ends).
storage::Uid sequence_match_floor(const SequenceSet& sequences, const SequenceSet& uids,
                                  const std::vector<storage::Uid>& view_uids);

// The UID set for "* VANISHED (EARLIER) ...": UIDs of `known` above
// `floor`, below `uidnext`, not in `present`, and expunged after the MODSEQ
// `changes` was taken at (every such UID when the index's record of
// expunges does not reach back that far). Empty when there are none.
std::string vanished_since(const storage::FolderView::ChangesSince& changes, const UidRanges& known,
                           storage::Uid floor, storage::Uid uidnext, const std::vector<storage::Uid>& present);

}  // namespace roost::imap

// RFC 5267 §4.3: how the results of a SEARCH or SORT with RETURN (UPDATE)
// changed, as the ESEARCH REMOVEFROM and ADDTO lines that take a client's
// copy from the old list to the new one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roost::imap {

struct ContextLines {
  std::string remove;  // REMOVEFROM: sent before EXPUNGE responses, in the old sequence numbers
  std::string add;     // ADDTO: sent after EXISTS, in the new ones
};

struct ContextChange {
  std::string_view tag;
  bool uid = false;     // numbers are UIDs (UID SEARCH/SORT), else sequence numbers
  bool sorted = false;  // SORT: positions in sort order; SEARCH: position 0, mailbox order
  const std::vector<std::uint32_t>& before;  // the results the client has, as UIDs in order
  const std::vector<std::uint32_t>& after;   // the results now
  const std::vector<std::uint32_t>& old_uids;  // the mailbox's UIDs before (sequence n is old_uids[n-1])
  const std::vector<std::uint32_t>& new_uids;  // and after
};

// Empty lines when nothing changed. SORT keys never change, so what stays
// keeps its order: runs are removed from the end (each position valid when
// applied), then inserted at their final positions, first to last.
ContextLines context_lines(const ContextChange& change);

}  // namespace roost::imap

// Object identifiers (RFC 8474 OBJECTID: EMAILID, THREADID, MAILBOXID),
// derived from what the index and the UID list already keep, so that they
// survive an index rebuild and need no storage of their own.
//
//   EMAILID   "M" + 22 base64url characters of SHA-256 over the message's
//             identity (MessageRecord::identity: its maildir key, or its
//             source's after COPY and MOVE)
//   THREADID  "T" + the same over the Message-ID that roots its thread: the
//             first References entry, else In-Reply-To, else its own
//             Message-ID. Read from the message's own immutable header, it
//             never changes once reported (§5.2), is the same for copies,
//             and relates messages across folders. A message with none of
//             these is a thread of its own, named after its identity.
//   MAILBOXID "F" + the GUID in the folder's UID list header
//
// Characters: RFC 8474 §7 objectid (ALPHA / DIGIT / "_" / "-"), starting
// with a letter (§8.1).
#pragma once

#include <string>
#include <string_view>

#include "roost/index/folder_index.hpp"

namespace roost::index {

std::string email_id(const MessageRecord& record);
std::string thread_id(const MessageRecord& record, const MessageKeys& keys);
std::string mailbox_id(std::string_view uidlist_guid);

}  // namespace roost::index

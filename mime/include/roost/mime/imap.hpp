// IMAP renderings of a parsed message: ENVELOPE and BODY/BODYSTRUCTURE,
// exactly as RFC 9051 §7.5.2 and §9 (and RFC 3501, which agrees for these
// items) define them. Strings are sent quoted when they can be, else as
// literals; header text is sent as it is in the message (encoded words are
// not decoded: that is the client's job).
#pragma once

#include <string>

#include "roost/mime/message.hpp"

namespace roost::mime {

// ENVELOPE of the message's top-level header.
std::string envelope(const Message& message);
// ENVELOPE of a header block.
std::string envelope(const Header& header);

// BODYSTRUCTURE (extensible = true) or BODY (extensible = false).
std::string body_structure(const Message& message, bool extensible);

// Appends an IMAP string (quoted or literal) or NIL for an absent value.
void append_string(std::string& out, std::string_view value);
void append_nstring(std::string& out, const std::string* value);

}  // namespace roost::mime

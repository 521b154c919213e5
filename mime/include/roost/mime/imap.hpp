// IMAP renderings of a parsed message: ENVELOPE and BODY/BODYSTRUCTURE,
// exactly as RFC 9051 §7.5.2 and §9 and RFC 3501 §7.4.2 and §9 define them.
// Strings are sent quoted when they can be, else as literals; header text is
// sent as it is in the message (encoded words are not decoded: that is the
// client's job). The two revisions differ in one place here, message/global
// (see Grammar); docs/imap-renderings.md lists every difference considered.
#pragma once

#include <string>

#include "roost/mime/message.hpp"

namespace roost::mime {

// ENVELOPE of the message's top-level header.
std::string envelope(const Message& message);
// ENVELOPE of a header block.
std::string envelope(const Header& header);

// Which revision's grammar a BODY/BODYSTRUCTURE follows. IMAP4rev2's
// media-message is MESSAGE/RFC822 or MESSAGE/GLOBAL, so both carry an
// envelope, a body and a line count; IMAP4rev1's is MESSAGE/RFC822 only,
// and there a MESSAGE/GLOBAL part must be a body-type-basic.
enum class Grammar { imap4rev1, imap4rev2 };

// BODYSTRUCTURE (extensible = true) or BODY (extensible = false).
std::string body_structure(const Message& message, bool extensible, Grammar grammar);

// Whether the two grammars render this message differently (it holds a
// message/global part), so that a cache of the IMAP4rev2 form needs the
// other form only for these.
bool renders_differ_by_revision(const Message& message);

// Appends an IMAP string (quoted or literal) or NIL for an absent value.
void append_string(std::string& out, std::string_view value);
void append_nstring(std::string& out, const std::string* value);

}  // namespace roost::mime

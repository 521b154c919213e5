// The text SEARCH BODY, TEXT and a full-text index look at: every text part
// of the message (and of messages inside it) decoded from its transfer
// encoding and charset to UTF-8, HTML reduced to its text, plus the decoded
// values of the header fields people search. Attachments that are not text
// contribute nothing.
#pragma once

#include <cstdint>
#include <string>

#include "roost/mime/message.hpp"

namespace roost::mime {

struct SearchText {
  std::string headers;  // "Name: decoded value\n" for each top-level field
  std::string body;     // text parts and nested messages' headers, separated by "\n"
};

SearchText search_text(const Message& message);

// What SEARCH compares a header field's value with: the decoded value, and
// for address fields (From, To, Cc, Bcc, Reply-To, Sender) also each
// address as ENVELOPE reads it, "name <mailbox@host>", so that an address
// written with comments inside ("jo(x)@example.org") is found as
// "jo@example.org".
std::string header_search_value(std::string_view name, std::string_view raw_value);

// RFC 8970 PREVIEW: up to 200 characters (never more than 256) of the first
// text part, preferring text/plain to text/html within an alternative, as
// plain UTF-8 with white space collapsed. Empty when the message has no
// human-readable text.
std::string preview(const Message& message);

// RFC 3516 BINARY.SIZE: the size of a part's content after its transfer
// encoding is removed.
std::uint64_t decoded_size(const Message& message, const Part& part);

// Text of an HTML document: tags, comments, <script> and <style> removed,
// the common character references decoded, block ends as line breaks.
std::string html_to_text(std::string_view html);

}  // namespace roost::mime

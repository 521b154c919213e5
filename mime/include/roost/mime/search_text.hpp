// The text SEARCH BODY, TEXT and a full-text index look at: every text part
// of the message (and of messages inside it) decoded from its transfer
// encoding and charset to UTF-8, HTML reduced to its text, plus the decoded
// values of the header fields people search. Attachments that are not text
// contribute nothing.
#pragma once

#include <string>

#include "roost/mime/message.hpp"

namespace roost::mime {

struct SearchText {
  std::string headers;  // "Name: decoded value\n" for each field
  std::string body;     // text parts, one after another, separated by "\n"
};

SearchText search_text(const Message& message);

// Text of an HTML document: tags, comments, <script> and <style> removed,
// the common character references decoded, block ends as line breaks.
std::string html_to_text(std::string_view html);

}  // namespace roost::mime

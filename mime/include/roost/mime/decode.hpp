// Decoding header text and parameters to UTF-8:
//   RFC 2047 encoded words (B and Q, "charset*language" labels, white space
//   between adjacent encoded words dropped, words of one charset joined
//   before conversion so that a character split across words survives);
//   RFC 2231 parameter continuations and charsets;
//   raw 8-bit header text (RFC 6532 UTF-8, else windows-1252).
// Also the transfer decodings of bodies (base64, quoted-printable),
// tolerant of junk as real mail requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "roost/mime/message.hpp"

namespace roost::mime {

// Unfolds and decodes an unstructured header value (Subject, a display name).
std::string decode_header_text(std::string_view raw_value);

// Joins RFC 2231 continuations (name*0, name*1*, ...) and decodes
// charset'language'%XX values; also decodes RFC 2047 words that some
// senders put in quoted parameter values. Names come back lowercased and
// without the '*' suffixes.
std::vector<Param> decode_params(const std::vector<Param>& params);

// Parameters as IMAP's body-fld-param shows them (RFC 9051 §7.5.2: servers
// SHOULD decode continuations): "name*0", "name*1" become one "name";
// sections with charset'language'%XX become one "name*" whose value is
// "utf-8'language'" and the UTF-8 text %XX-encoded, so that it stays a
// valid RFC 2231 extended value. Plain values stay as written (encoded
// words are the client's to decode), and so does the name's case.
std::vector<Param> join_param_continuations(const std::vector<Param>& params);

// Base64 as found in mail bodies: white space and junk skipped, missing
// padding tolerated.
std::string decode_base64_lenient(std::string_view text);
// decode_base64_lenient(text).size(), without decoding.
std::uint64_t base64_decoded_size(std::string_view text);

// Quoted-printable (RFC 2045 §6.7): soft line breaks removed, =XX decoded,
// malformed '=' sequences kept as they are.
std::string decode_quoted_printable(std::string_view text);

// Decodes a body for its Content-Transfer-Encoding (7bit, 8bit, binary and
// unknown encodings come back as they are).
std::string decode_transfer(std::string_view body, std::string_view encoding);

}  // namespace roost::mime

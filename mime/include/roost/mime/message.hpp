// MIME structure of a message (RFC 5322, RFC 2045, RFC 2046): every part's
// header and body as exact byte ranges of the message, with what IMAP's
// BODYSTRUCTURE needs about each, so that BODY[1.2.HEADER], BODY[2.MIME] and
// BODY[3]<0.100> are served by reading ranges, never by parsing again.
//
// Parsing never fails: malformed mail gets the structure a tolerant reader
// would see (RFC 2046 defaults, missing boundaries closed at the end of the
// enclosing part, a multipart without parts read as text/plain as Dovecot
// does). Past a limit (depth, part count, header fields) the rest is one
// opaque part. The parser reads only the buffer it is given; its memory is
// bounded by the message's structure, not its size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roost::mime {

// A byte range [begin, end) of the message as stored, plus the size it has on
// the wire, where every line ends in CRLF: a bare LF or a bare CR is sent as
// CRLF (IMAP requires CRLF; this is also how Dovecot counts).
struct Span {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t wire_size = 0;

  std::uint64_t size() const { return end - begin; }
};

struct Param {
  std::string name;   // as written (RFC 2231 "name*0*" forms kept; see decoded_params)
  std::string value;  // unquoted
};

struct HeaderField {
  std::string_view name;       // as written, without trailing white space
  std::string_view raw_value;  // everything after ':' to the end of the field, folded
};

// The fields of one header block, in order; views into the message.
struct Header {
  std::vector<HeaderField> fields;

  // First field with this name (case-insensitive), or nullptr.
  const HeaderField* find(std::string_view name) const;
};

// Removes folding (CRLF or LF followed by white space) and trims the ends.
std::string unfold(std::string_view raw_value);

struct ContentType {
  std::string type = "text";      // as written; compare case-insensitively
  std::string subtype = "plain";
  std::vector<Param> params;
  bool defaulted = true;          // no usable Content-Type field

  bool is(std::string_view t) const;                         // type matches
  bool is(std::string_view t, std::string_view s) const;     // type/subtype match
  const Param* param(std::string_view name) const;           // case-insensitive
};

struct Disposition {
  std::string type;  // empty: no Content-Disposition
  std::vector<Param> params;
};

struct Part {
  Span header;  // the header block including the empty line that ends it
  Span body;    // for a multipart: everything between the header and the end
  ContentType content_type;
  std::string encoding;  // Content-Transfer-Encoding as written, empty if absent
  std::string id;
  std::string description;
  std::string md5;
  Disposition disposition;
  std::vector<std::string> language;
  std::string location;
  std::uint64_t body_lines = 0;  // text lines of the body (text/* and message/*)
  // Children of a multipart, or the single nested message of message/rfc822
  // (whose own header and body spans describe the encapsulated message).
  std::vector<Part> children;
  bool opaque = false;  // a limit was reached: not parsed further

  bool is_multipart() const { return content_type.is("multipart"); }
  bool is_message() const;  // message/rfc822 or message/global, parsed inside
};

struct Limits {
  unsigned max_depth = 32;
  unsigned max_parts = 10000;
  unsigned max_header_fields = 5000;
};

struct Message {
  std::string_view data;  // the buffer parsed; views in headers point into it
  Part root;
  Header header;  // the top-level header's fields
  std::uint64_t wire_size = 0;
  unsigned part_count = 0;
};

Message parse(std::string_view data, const Limits& limits = {});

// The message's size with every line ending sent as CRLF (RFC822.SIZE, the
// maildir W= field): what parse() gives as `wire_size`, without parsing.
std::uint64_t wire_size(std::string_view data);

// Parses one header block starting at `begin`; returns the offset just past
// the empty line that ends it, or `end` when there is none. Lines that are
// not fields (an mbox "From " line, garbage) stay in the header but are not
// listed.
std::uint64_t parse_header(std::string_view data, std::uint64_t begin, std::uint64_t end,
                           Header& header, unsigned max_fields);

// Content-Type / Content-Disposition style value: "token/token; a=b; c="d"".
ContentType parse_content_type(std::string_view value);
Disposition parse_disposition(std::string_view value);

// The wire size of a range: its bytes with every bare LF or CR counted as CRLF.
Span make_span(std::string_view data, std::uint64_t begin, std::uint64_t end);

// The part a section number names (RFC 9051 §6.4.5: "4.2.2.1"), following
// message/rfc822 parts into the messages they hold; nullptr if there is no
// such part. An empty path names the whole message.
const Part* find_part(const Message& message, const std::vector<unsigned>& path);

// IMAP section numbers of the leaves (non-multipart parts), as the manifest
// and RFC 9051 §6.4.5 number them: "1", "1.2", "2.1" ...; with each type.
struct Leaf {
  std::string section;
  const Part* part;
};
std::vector<Leaf> leaves(const Message& message);

}  // namespace roost::mime

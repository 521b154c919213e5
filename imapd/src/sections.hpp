// BODY[section] (RFC 9051 §6.4.5) as bytes: what FETCH sends and what
// CATENATE's URLs (RFC 4469) take, cut from the stored message along the
// part table the index keeps, never re-parsing the file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/imapd/requests.hpp"
#include "roost/index/folder_index.hpp"

namespace roost::imap {

// Bare LF and bare CR become CRLF: what IMAP sends and RFC822.SIZE counts.
std::string to_crlf(std::string_view raw);

// The part that IMAP part number `path` names, as an index into `parts`.
std::optional<std::size_t> find_part(const std::vector<index::PartInfo>& parts, const std::vector<std::uint32_t>& path);

// The data of `section` of the stored message `raw`; nullopt when the
// section does not exist.
std::optional<std::string> section_data(const std::vector<index::PartInfo>& parts, const Section& section,
                                        const std::string& raw);

}  // namespace roost::imap

// IMAP URLs (RFC 5092) of the kind CATENATE takes (RFC 4469 §3): relative
// to the session's own server and user, naming one message or one part of
// it: "/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2/;PARTIAL=0.1024".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "roost/imapd/requests.hpp"

namespace roost::imap {

struct ImapUrl {
  std::string mailbox;  // %-decoded: modified UTF-7 or UTF-8, as the client wrote it
  std::optional<std::uint32_t> uidvalidity;
  std::uint32_t uid = 0;
  Section section;                 // empty: the whole message
  std::optional<Partial> partial;  // length 0: to the end
};

// nullopt for anything else: absolute URLs, searches, lists, bad escapes.
std::optional<ImapUrl> parse_imap_url(std::string_view url);

}  // namespace roost::imap

// RFC 5322 address lists (§3.4, with the obsolete forms of §4.4), read the
// way IMAP's ENVELOPE presents them (RFC 9051 §7.5.2): a group is a start
// marker carrying its name, its members, and an end marker.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace roost::mime {

struct Address {
  enum class Kind { mailbox, group_start, group_end };
  Kind kind = Kind::mailbox;
  std::string name;     // display name or group name, as written (encoded words kept)
  std::string route;    // obsolete source route, "@a.example,@b.example"
  std::string mailbox;  // local part; empty if missing
  std::string host;     // domain; empty if missing
};

// Never fails: what cannot be read as an address is skipped, an address
// without '@' keeps its local part with an empty host, and an unclosed group
// or angle bracket is closed at the end.
std::vector<Address> parse_address_list(std::string_view raw_value);

}  // namespace roost::mime

// The keys SORT and THREAD compare (RFC 5256, RFC 5957), computed once per
// message: the base subject, the sent date, the first address's mailbox and
// the display name, all comparable under i;unicode-casemap (RFC 5051).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/mime/message.hpp"

namespace roost::mime {

// RFC 5051 "titlecased canonicalized UTF-8": each code point titlecased,
// then fully decomposed (NFKD, without canonical reordering). Comparing the
// results with i;octet is i;unicode-casemap. Invalid UTF-8 comes back
// unchanged (RFC 5051 §2 step 1b: compared as octets).
std::string casemap(std::string_view utf8);

struct BaseSubject {
  std::string text;           // RFC 5256 §2.1 step 7, still in its original case
  bool reply_or_forward = false;  // a "re:", "fw:", "fwd:", "(fwd)" or "[fwd: ...]" was removed
};

// RFC 5256 §2.1, from the raw Subject field value (encoded words decoded here).
BaseSubject base_subject(std::string_view raw_value);

// RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 (two-digit years,
// named zones, missing seconds, comments), as seconds since 1970-01-01 UTC.
// Absent for anything that is not a date; RFC 5256 §2.2 then uses the
// INTERNALDATE.
std::optional<std::int64_t> parse_date(std::string_view raw_value);

// The same date with the day as written: days since 1970-01-01 of the
// date in its own time zone, which SENTBEFORE, SENTON and SENTSINCE compare
// (RFC 3501 §6.4.4: "disregarding time and timezone").
struct DateTime {
  std::int64_t utc = 0;         // seconds since 1970-01-01 UTC
  std::int64_t written_day = 0;
};
std::optional<DateTime> parse_date_time(std::string_view raw_value);

// RFC 5256 §3 FROM, TO, CC: the mailbox (local part) of the first address,
// and RFC 5957 DISPLAYFROM/DISPLAYTO: its decoded display name, or else its
// addr-spec; for a group, its name (as ENVELOPE shows a group). Empty if
// there is no address.
std::string first_mailbox(std::string_view raw_address_list);
std::string first_display(std::string_view raw_address_list);

// Message-IDs in a field (References, In-Reply-To, Message-ID), without
// their angle brackets, in order; junk between them is skipped
// (RFC 5256 §2.2 REFERENCES threading).
std::vector<std::string> message_ids(std::string_view raw_value);

}  // namespace roost::mime

#include "roost/mime/sort_keys.hpp"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf8.h>

#include <array>
#include <cctype>
#include <ctime>

#include "roost/mime/address.hpp"
#include "roost/mime/charset.hpp"
#include "roost/mime/decode.hpp"
#include "text.hpp"

namespace roost::mime {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Lower-case ASCII comparison of a prefix.
bool starts_with_ci(std::string_view s, std::size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  return ascii_iequals(s.substr(at, prefix.size()), prefix);
}

// subj-blob = "[" *BLOBCHAR "]" *WSP; returns its length at `at`, or 0.
std::size_t blob_at(std::string_view s, std::size_t at) {
  if (at >= s.size() || s[at] != '[') return 0;
  std::size_t i = at + 1;
  while (i < s.size() && s[i] != '[' && s[i] != ']') ++i;
  if (i >= s.size() || s[i] != ']') return 0;
  ++i;
  while (i < s.size() && is_wsp(s[i])) ++i;
  return i - at;
}

// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"; length or 0.
std::size_t refwd_at(std::string_view s, std::size_t at) {
  std::size_t i = at;
  if (starts_with_ci(s, i, "re")) i += 2;
  else if (starts_with_ci(s, i, "fwd")) i += 3;
  else if (starts_with_ci(s, i, "fw")) i += 2;
  else return 0;
  while (i < s.size() && is_wsp(s[i])) ++i;
  i += blob_at(s, i);
  if (i >= s.size() || s[i] != ':') return 0;
  return i + 1 - at;
}

// subj-leader = (*subj-blob subj-refwd) / WSP; length or 0.
std::size_t leader_at(std::string_view s, std::size_t at) {
  if (at < s.size() && is_wsp(s[at])) return 1;
  std::size_t i = at;
  while (std::size_t b = blob_at(s, i)) i += b;
  std::size_t r = refwd_at(s, i);
  return r == 0 ? 0 : i + r - at;
}

const UNormalizer2* nfkd() {
  UErrorCode status = U_ZERO_ERROR;
  static const UNormalizer2* instance = unorm2_getNFKDInstance(&status);
  return instance;
}

int month_index(std::string_view m) {
  static constexpr std::array<std::string_view, 12> names = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (ascii_iequals(m.substr(0, 3), names[i])) return static_cast<int>(i);
  }
  return -1;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::string casemap(std::string_view utf8) {
  if (!is_valid_utf8(utf8)) return std::string(utf8);
  std::string out;
  out.reserve(utf8.size());
  const auto* s = reinterpret_cast<const uint8_t*>(utf8.data());
  int32_t i = 0;
  const auto length = static_cast<int32_t>(utf8.size());
  UChar decomposition[32];
  while (i < length) {
    // Runs of ASCII, most of any text, are copied and upper-cased in place.
    int32_t run = i;
    while (run < length && s[run] < 0x80) ++run;
    if (run > i) {
      std::size_t from = out.size();
      out.append(utf8.data() + i, static_cast<std::size_t>(run - i));
      for (std::size_t k = from; k < out.size(); ++k) out[k] = ascii_upper(out[k]);
      i = run;
      continue;
    }
    UChar32 c;
    U8_NEXT(s, i, length, c);
    if (c < 0x80) {
      out.push_back(ascii_upper(static_cast<char>(c)));
      continue;
    }
    UChar32 title = u_totitle(c);
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = unorm2_getDecomposition(nfkd(), title, decomposition, 32, &status);
    if (U_FAILURE(status) || n < 0) {
      append_utf8(out, static_cast<std::uint32_t>(title));
      continue;
    }
    for (int32_t k = 0; k < n;) {
      UChar32 d;
      U16_NEXT(decomposition, k, n, d);
      append_utf8(out, static_cast<std::uint32_t>(d));
    }
  }
  return out;
}

BaseSubject base_subject(std::string_view raw_value) {
  BaseSubject result;
  // (1) Decode, tabs and continuations to spaces, runs of spaces to one.
  std::string decoded = decode_header_text(raw_value);
  std::string s;
  for (char c : decoded) {
    if (c == '\t' || c == '\r' || c == '\n') c = ' ';
    if (c == ' ' && !s.empty() && s.back() == ' ') continue;
    s.push_back(c);
  }
  std::string_view v = s;
  for (;;) {
    // (2) Trailers: "(fwd)" or WSP, repeatedly.
    for (;;) {
      if (!v.empty() && is_wsp(v.back())) {
        v.remove_suffix(1);
      } else if (v.size() >= 5 && ascii_iequals(v.substr(v.size() - 5), "(fwd)")) {
        v.remove_suffix(5);
        result.reply_or_forward = true;
      } else {
        break;
      }
    }
    // (3)-(5) Leaders, and a leading blob if something remains after it.
    for (;;) {
      bool removed = false;
      while (std::size_t n = leader_at(v, 0)) {
        if (!is_wsp(v[0])) result.reply_or_forward = true;
        v.remove_prefix(n);
        removed = true;
      }
      if (std::size_t b = blob_at(v, 0)) {
        std::string_view rest = v.substr(b);
        bool base_left = rest.find_first_not_of(" \t") != std::string_view::npos;
        if (base_left) {
          v = rest;
          removed = true;
        }
      }
      if (!removed) break;
    }
    // (6) "[fwd: ... ]" around the rest: unwrap and start again.
    if (v.size() >= 6 && starts_with_ci(v, 0, "[fwd:") && v.back() == ']') {
      v = v.substr(5, v.size() - 6);
      result.reply_or_forward = true;
      continue;
    }
    break;
  }
  result.text = std::string(v);
  return result;
}

std::optional<std::int64_t> parse_date(std::string_view raw) {
  auto date = parse_date_time(raw);
  if (!date) return std::nullopt;
  return date->utc;
}

std::optional<DateTime> parse_date_time(std::string_view raw) {
  // Tokens: words and numbers, with comments and punctuation removed.
  std::string s = unfold(raw);
  std::vector<std::string> tokens;
  int depth = 0;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) tokens.push_back(current);
    current.clear();
  };
  for (char c : s) {
    if (c == '(') {
      flush();
      ++depth;
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (depth > 0) {
      continue;
    } else if (c == ' ' || c == '\t' || c == ',') {
      flush();
    } else if (c == ':') {
      flush();
      tokens.push_back(":");
    } else {
      current.push_back(c);
    }
  }
  flush();
  std::size_t i = 0;
  auto is_number = [](const std::string& t) {
    return !t.empty() && t.size() <= 4 &&
           t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (i < tokens.size() && !is_number(tokens[i])) ++i;  // day of week
  if (i + 2 >= tokens.size()) return std::nullopt;
  if (!is_number(tokens[i])) return std::nullopt;
  int day = std::stoi(tokens[i++]);
  int month = month_index(tokens[i++]);
  if (!is_number(tokens[i])) return std::nullopt;
  int year = std::stoi(tokens[i]);
  std::size_t year_digits = tokens[i++].size();
  // RFC 5322 §4.3: two-digit years from 50 are 19xx, below 20xx; three digits add 1900.
  if (year_digits == 2) year += year < 50 ? 2000 : 1900;
  else if (year_digits == 3) year += 1900;
  // RFC 5322 §3.3: a four-digit year is 1900 or later. "0102" is a broken
  // mailer's, not a date in antiquity that would sort first: no date, so
  // the INTERNALDATE stands in (RFC 5256 §2.2).
  if (year < 1900) return std::nullopt;
  if (month < 0 || day < 1 || day > 31) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  if (i + 2 < tokens.size() && is_number(tokens[i]) && tokens[i + 1] == ":" &&
      is_number(tokens[i + 2])) {
    hour = std::stoi(tokens[i]);
    minute = std::stoi(tokens[i + 2]);
    i += 3;
    if (i + 1 < tokens.size() && tokens[i] == ":" && is_number(tokens[i + 1])) {
      second = std::stoi(tokens[i + 1]);
      i += 2;
    }
  } else {
    return std::nullopt;
  }
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int offset_minutes = 0;
  if (i < tokens.size()) {
    const std::string& z = tokens[i];
    if ((z[0] == '+' || z[0] == '-') && z.size() == 5 &&
        z.find_first_not_of("0123456789", 1) == std::string::npos) {
      int hh = std::stoi(z.substr(1, 2));
      int mm = std::stoi(z.substr(3, 2));
      offset_minutes = (hh * 60 + mm) * (z[0] == '-' ? -1 : 1);
    } else {
      static constexpr std::pair<std::string_view, int> zones[] = {
          {"UT", 0},        {"GMT", 0},       {"Z", 0},         {"EST", -5 * 60},
          {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60}, {"MST", -7 * 60},
          {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
      for (auto [name, minutes] : zones) {
        if (ascii_iequals(z, name)) offset_minutes = minutes;
      }
      // Other named and military zones count as -0000 (RFC 5322 §4.3).
    }
  }
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
  return DateTime{days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60, days};
}

// The first address as ENVELOPE shows it (RFC 3501 §7.4.2): a group's
// start is an address whose mailbox is the group name (and no host), so
// "undisclosed-recipients:;" sorts as "undisclosed-recipients".
std::string first_mailbox(std::string_view raw) {
  for (const auto& a : parse_address_list(raw)) {
    if (a.kind == Address::Kind::group_start) return a.name;
    if (a.kind == Address::Kind::mailbox) return a.mailbox;
  }
  return {};
}

// RFC 5957 §4: the DISPLAY value of that first address; a group's has no
// display name and no host, which leaves its name.
std::string first_display(std::string_view raw) {
  for (const auto& a : parse_address_list(raw)) {
    if (a.kind == Address::Kind::group_start) return decode_header_text(a.name);
    if (a.kind != Address::Kind::mailbox) continue;
    std::string name = decode_header_text(a.name);
    if (!name.empty()) return name;
    return a.host.empty() ? a.mailbox : a.mailbox + "@" + a.host;
  }
  return {};
}

std::vector<std::string> message_ids(std::string_view raw) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = raw.find('<', i)) != std::string_view::npos) {
    std::size_t close = raw.find('>', i + 1);
    if (close == std::string_view::npos) break;
    std::string id;
    for (char c : raw.substr(i + 1, close - i - 1)) {
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') id.push_back(c);
    }
    if (!id.empty() && id.find('<') == std::string::npos) out.push_back(std::move(id));
    i = close + 1;
  }
  return out;
}

}  // namespace roost::mime

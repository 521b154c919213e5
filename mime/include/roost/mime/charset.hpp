// Charset conversion to UTF-8 with ICU, reading labels the way mail in the
// wild needs (LIBRARY-FACTS §4): iso-8859-1 and us-ascii as windows-1252,
// gb2312 as gbk, euc-kr as windows-949, tis-620 as windows-874, iso-8859-9
// as windows-1254. Text without a label, or with an unknown or unusable
// one, is read as UTF-8 when it is valid UTF-8, else as the charset ICU's
// detector names with confidence of at least 30 (a sentence of KOI8-R or
// Shift_JIS; never for a lone word), else as windows-1252. Invalid bytes
// become U+FFFD.
// Thread-safe (converters are cached per thread).
#pragma once

#include <string>
#include <string_view>

#include "roost/core/utf8.hpp"

namespace roost::mime {

std::string to_utf8(std::string_view bytes, std::string_view charset);

// The ICU converter name used for a MIME charset label ("" if none fits).
std::string canonical_charset(std::string_view label);

using roost::is_valid_utf8;

}  // namespace roost::mime

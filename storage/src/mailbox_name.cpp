#include "roost/storage/mailbox_name.hpp"

#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "roost/core/ascii.hpp"

namespace roost::storage {

namespace {

// One directory name holds the whole folder path; ext4 allows 255 bytes.
constexpr std::size_t kMaxDirectoryName = 255;

struct ConverterCloser {
  void operator()(UConverter* c) const { ucnv_close(c); }
};
using Converter = std::unique_ptr<UConverter, ConverterCloser>;

Converter open_converter(const char* name) {
  UErrorCode status = U_ZERO_ERROR;
  Converter c(ucnv_open(name, &status));
  if (U_FAILURE(status)) return nullptr;
  ucnv_setToUCallBack(c.get(), UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  ucnv_setFromUCallBack(c.get(), UCNV_FROM_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &status);
  return c;
}

// Converts between two ICU converters through UTF-16; empty on any error.
std::expected<std::string, NameError> convert(const char* from, const char* to, std::string_view in,
                                              NameError on_error) {
  Converter source = open_converter(from), target = open_converter(to);
  if (!source || !target) return std::unexpected(on_error);
  UErrorCode status = U_ZERO_ERROR;
  std::vector<UChar> utf16(in.size() * 2 + 4);
  int32_t length = ucnv_toUChars(source.get(), utf16.data(), static_cast<int32_t>(utf16.size()), in.data(),
                                 static_cast<int32_t>(in.size()), &status);
  if (U_FAILURE(status)) return std::unexpected(on_error);
  std::string out(static_cast<std::size_t>(length) * 4 + 8, '\0');
  status = U_ZERO_ERROR;
  int32_t written = ucnv_fromUChars(target.get(), out.data(), static_cast<int32_t>(out.size()), utf16.data(),
                                    length, &status);
  if (U_FAILURE(status)) return std::unexpected(on_error);
  out.resize(static_cast<std::size_t>(written));
  return out;
}

bool iequals_inbox(std::string_view s) { return ascii_iequals(s, "INBOX"); }

}  // namespace

std::string_view describe(NameError error) {
  switch (error) {
    case NameError::empty: return "folder names and their levels cannot be empty";
    case NameError::bad_character: return "folder names cannot contain '.' or control characters";
    case NameError::bad_utf8: return "folder name is not valid UTF-8";
    case NameError::bad_mutf7: return "folder name is not valid modified UTF-7";
    case NameError::too_long: return "folder name is too long";
  }
  return "bad folder name";
}

bool is_inbox(std::string_view canonical) { return canonical == "INBOX"; }

std::string encode_mutf7(std::string_view utf8) {
  auto out = convert("UTF-8", "IMAP-mailbox-name", utf8, NameError::bad_utf8);
  return out ? *out : std::string();
}

std::expected<std::string, NameError> decode_mutf7(std::string_view mutf7) {
  for (char c : mutf7)
    if (static_cast<unsigned char>(c) >= 0x80) return std::unexpected(NameError::bad_mutf7);
  auto utf8 = convert("IMAP-mailbox-name", "UTF-8", mutf7, NameError::bad_mutf7);
  if (!utf8) return utf8;
  // ICU also accepts non-canonical forms ("&AGE-" for "a", a lone "&"):
  // only the spelling that encodes back to itself is a name.
  if (encode_mutf7(*utf8) != mutf7) return std::unexpected(NameError::bad_mutf7);
  return utf8;
}

std::expected<std::string, NameError> canonical_name(std::string_view utf8) {
  if (utf8.empty()) return std::unexpected(NameError::empty);
  std::string out;
  std::size_t start = 0;
  bool first = true;
  while (true) {
    std::size_t end = utf8.find(kHierarchySeparator, start);
    std::string_view level = utf8.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.empty()) return std::unexpected(NameError::empty);
    for (char c : level) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == '.') return std::unexpected(NameError::bad_character);
    }
    if (!first) out += kHierarchySeparator;
    if (first && iequals_inbox(level)) {
      out += "INBOX";
    } else {
      out += level;
    }
    first = false;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  // Valid UTF-8: round trip through ICU.
  auto check = convert("UTF-8", "UTF-8", out, NameError::bad_utf8);
  if (!check || *check != out) return std::unexpected(NameError::bad_utf8);
  // RFC 6855 §3: no C1 controls, line or paragraph separators either.
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(out.data());
  const auto length = static_cast<std::int32_t>(out.size());
  for (std::int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if ((c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029) return std::unexpected(NameError::bad_character);
  }
  if (directory_name(out).size() > kMaxDirectoryName) return std::unexpected(NameError::too_long);
  return out;
}

std::string directory_name(std::string_view canonical) {
  if (is_inbox(canonical)) return {};
  std::string out = ".";
  std::string encoded = encode_mutf7(canonical);
  for (char c : encoded) out += c == kHierarchySeparator ? '.' : c;
  return out;
}

std::expected<std::string, NameError> name_from_directory(std::string_view directory) {
  if (directory.size() < 2 || directory[0] != '.' || directory == "..")
    return std::unexpected(NameError::bad_character);
  std::string levels(directory.substr(1));
  for (char& c : levels) {
    if (c == kHierarchySeparator) return std::unexpected(NameError::bad_character);
    if (c == '.') c = kHierarchySeparator;
  }
  auto utf8 = decode_mutf7(levels);
  if (!utf8) return utf8;
  return canonical_name(*utf8);
}

}  // namespace roost::storage

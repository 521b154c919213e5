#include "roost/mime/charset.hpp"

#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>

#include <list>
#include <memory>
#include <utility>

#include "text.hpp"
#include "roost/core/ascii.hpp"

namespace roost::mime {
namespace {

// WHATWG-style corrections: the label a sender wrote, the encoding its
// software really used.
constexpr std::pair<std::string_view, std::string_view> overrides[] = {
    {"us-ascii", "windows-1252"},   {"ascii", "windows-1252"},
    {"iso-8859-1", "windows-1252"}, {"iso8859-1", "windows-1252"},
    {"latin1", "windows-1252"},     {"l1", "windows-1252"},
    {"iso_8859-1", "windows-1252"}, {"gb2312", "gbk"},
    {"x-gbk", "gbk"},               {"euc-kr", "windows-949"},
    {"ks_c_5601-1987", "windows-949"}, {"iso-8859-9", "windows-1254"},
    {"tis-620", "windows-874"},     {"iso-8859-11", "windows-874"},
    {"utf8", "utf-8"},              {"unicode-1-1-utf-7", "utf-7"},
};

struct Cached {
  std::string label;
  UConverter* converter;
};

// A few converters per thread, most recently used first.
class ConverterCache {
 public:
  ~ConverterCache() {
    for (auto& c : entries_) ucnv_close(c.converter);
  }
  UConverter* get(const std::string& name) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->label == name) {
        entries_.splice(entries_.begin(), entries_, it);
        ucnv_reset(entries_.front().converter);
        return entries_.front().converter;
      }
    }
    UErrorCode status = U_ZERO_ERROR;
    UConverter* c = ucnv_open(name.c_str(), &status);
    if (U_FAILURE(status) || c == nullptr) return nullptr;
    entries_.push_front(Cached{name, c});
    if (entries_.size() > 16) {
      ucnv_close(entries_.back().converter);
      entries_.pop_back();
    }
    return c;
  }

 private:
  std::list<Cached> entries_;
};


std::string convert(UConverter* from, std::string_view bytes) {
  UErrorCode status = U_ZERO_ERROR;
  static thread_local ConverterCache utf8_cache;
  UConverter* utf8 = utf8_cache.get("utf-8");
  std::string out;
  out.resize(bytes.size() * 3 + 16);
  char* target = out.data();
  const char* source = bytes.data();
  ucnv_convertEx(utf8, from, &target, out.data() + out.size(), &source,
                 bytes.data() + bytes.size(), nullptr, nullptr, nullptr, nullptr, true, true,
                 &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    // Rare (a byte can need more than three UTF-8 bytes only via
    // stateful encodings); retry with room to spare.
    status = U_ZERO_ERROR;
    ucnv_reset(from);
    out.resize(bytes.size() * 8 + 64);
    target = out.data();
    source = bytes.data();
    ucnv_convertEx(utf8, from, &target, out.data() + out.size(), &source,
                   bytes.data() + bytes.size(), nullptr, nullptr, nullptr, nullptr, true, true,
                   &status);
  }
  if (U_FAILURE(status)) return {};
  out.resize(static_cast<std::size_t>(target - out.data()));
  return out;
}

// ICU's detector, one per thread.
class Detector {
 public:
  Detector() {
    UErrorCode status = U_ZERO_ERROR;
    detector_ = ucsdet_open(&status);
    if (U_FAILURE(status)) detector_ = nullptr;
  }
  ~Detector() {
    if (detector_ != nullptr) ucsdet_close(detector_);
  }
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // The charset of unlabeled 8-bit text that is not UTF-8, or "" when the
  // detector is not sure enough. Measured on this machine: short strings
  // (a name, a word) get no candidate above 30; a sentence of KOI8-R,
  // windows-1251, Shift_JIS, ISO-8859-7 or Latin-1 gets its charset at 38
  // or more. UTF-16/32 and the EBCDIC code pages never carry mail text, and
  // Latin-1 is what the fallback gives anyway.
  std::string detect(std::string_view bytes) {
    if (detector_ == nullptr) return "";
    if (bytes.size() > 8192) bytes = bytes.substr(0, 8192);
    UErrorCode status = U_ZERO_ERROR;
    ucsdet_setText(detector_, bytes.data(), static_cast<int32_t>(bytes.size()), &status);
    const UCharsetMatch* match = ucsdet_detect(detector_, &status);
    if (U_FAILURE(status) || match == nullptr) return "";
    int32_t confidence = ucsdet_getConfidence(match, &status);
    const char* name = ucsdet_getName(match, &status);
    if (U_FAILURE(status) || name == nullptr || confidence < 30) return "";
    std::string label = ascii_lowercase(name);
    if (label.starts_with("utf-") || label.starts_with("ibm4")) return "";
    return label;
  }

 private:
  UCharsetDetector* detector_;
};

// The converter for bytes whose label is missing or unusable: UTF-8 when
// they are, else what the detector finds, else windows-1252.
std::string unlabeled_charset(std::string_view bytes) {
  if (is_valid_utf8(bytes)) return "utf-8";
  static thread_local Detector detector;
  std::string detected = canonical_charset(detector.detect(bytes));
  return detected.empty() ? "windows-1252" : detected;
}

}  // namespace

std::string canonical_charset(std::string_view label_in) {
  std::string label = ascii_lowercase(trim(label_in));
  for (auto [from, to] : overrides) {
    if (label == from) return std::string(to);
  }
  if (label.empty()) return "";
  UErrorCode status = U_ZERO_ERROR;
  const char* name = ucnv_getCanonicalName(label.c_str(), "MIME", &status);
  if (U_SUCCESS(status) && name != nullptr) return label;
  status = U_ZERO_ERROR;
  name = ucnv_getCanonicalName(label.c_str(), "IANA", &status);
  if (U_SUCCESS(status) && name != nullptr) return label;
  // Try the name as ICU knows it (aliases such as "cp1252", "sjis").
  status = U_ZERO_ERROR;
  UConverter* probe = ucnv_open(label.c_str(), &status);
  if (probe != nullptr) ucnv_close(probe);
  return U_SUCCESS(status) && probe != nullptr ? label : "";
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  static thread_local ConverterCache cache;
  // Every charset we accept agrees on the bytes below 0x80 but ESC, except
  // for '+' in UTF-7 and '~' in HZ.
  bool ascii = true, shifts = false;
  for (unsigned char c : bytes) {
    if (c >= 0x80 || c == 0x1b) {
      ascii = false;
      break;
    }
    if (c == '+' || c == '~') shifts = true;
  }
  if (ascii && !shifts) return std::string(bytes);
  std::string name = canonical_charset(charset);
  if (name.empty()) name = unlabeled_charset(bytes);
  if (name == "utf-8" && is_valid_utf8(bytes)) return std::string(bytes);
  UConverter* c = cache.get(name);
  if (c == nullptr) c = cache.get(unlabeled_charset(bytes));
  if (c == nullptr) return std::string(bytes);
  if (ascii && ucnv_getType(c) != UCNV_UTF7 && ucnv_getType(c) != UCNV_HZ) return std::string(bytes);
  return convert(c, bytes);
}

}  // namespace roost::mime

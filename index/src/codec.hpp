// Compact binary encoding for index values: unsigned LEB128 integers and
// length-prefixed strings. Decoding is bounds-checked; a short or garbled
// value decodes as failure, never as out-of-range reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace roost::index::codec {

class Writer {
 public:
  void u(std::uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void s(std::int64_t value) { u((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63)); }
  void str(std::string_view value) {
    u(value.size());
    out_.append(value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint64_t u() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) {
        ok_ = false;
        return 0;
      }
      auto byte = static_cast<unsigned char>(in_[pos_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ok_ = false;
    return 0;
  }
  std::int64_t s() {
    std::uint64_t v = u();
    return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::string_view str() {
    std::uint64_t size = u();
    if (!ok_ || size > in_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string_view value = in_.substr(pos_, size);
    pos_ += size;
    return value;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace roost::index::codec

// The template of POP3 UIDL values ([pop3] uidl_format), parsed once when
// the configuration is read so that a bad template is a configuration error
// naming its line, not a surprise at the first UIDL.
//
//   %u  the message's IMAP UID        %v  the folder's UIDVALIDITY
//   %f  the maildir file's base name  %%  a percent sign
//
// A variable may carry printf-like modifiers: a width, '0' to pad with
// zeros, 'X' or 'x' for hexadecimal. Dovecot's default is "%08Xu%08Xv",
// which is also Roost's, so a maildrop moved from Dovecot (with its
// dovecot-uidlist) keeps every UIDL.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace roost {

class UidlFormat {
 public:
  static std::expected<UidlFormat, std::string> parse(std::string_view text);

  std::string render(std::uint32_t uid, std::uint32_t uidvalidity, std::string_view file_name) const;
  // The same, appended to `out` (a UIDL listing renders 100,000 at a time).
  void append(std::string& out, std::uint32_t uid, std::uint32_t uidvalidity, std::string_view file_name) const;
  const std::string& text() const { return text_; }
  // Whether %f appears: only then must a maildrop listing carry file names.
  bool uses_file_name() const;

 private:
  struct Piece {
    char variable = 0;  // 'u', 'v', 'f'; 0 for literal text
    std::string literal;
    unsigned width = 0;
    bool zero_pad = false;
    char base = 'd';  // 'd', 'X' or 'x'
  };
  std::string text_;
  std::vector<Piece> pieces_;
};

}  // namespace roost

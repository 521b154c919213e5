#include "roost/core/uidl_format.hpp"

#include <charconv>

namespace roost {

std::expected<UidlFormat, std::string> UidlFormat::parse(std::string_view text) {
  UidlFormat format;
  format.text_ = std::string(text);
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] != '%') {
      std::size_t next = text.find('%', i);
      if (next == std::string_view::npos) next = text.size();
      format.pieces_.push_back(Piece{.literal = std::string(text.substr(i, next - i))});
      i = next;
      continue;
    }
    Piece piece;
    ++i;
    if (i < text.size() && text[i] == '%') {
      format.pieces_.push_back(Piece{.literal = "%"});
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '0') {
      piece.zero_pad = true;
      ++i;
    }
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      piece.width = piece.width * 10 + static_cast<unsigned>(text[i] - '0');
      if (piece.width > 64) return std::unexpected("a width above 64 in '" + format.text_ + "'");
      ++i;
    }
    if (piece.width > 0 && !piece.zero_pad)
      return std::unexpected("a width needs '0' before it: UIDLs have no spaces (RFC 1939 §7)");
    if (i < text.size() && (text[i] == 'X' || text[i] == 'x')) piece.base = text[i++];
    if (i >= text.size()) return std::unexpected("'" + format.text_ + "' ends inside a variable");
    piece.variable = text[i++];
    if (piece.variable != 'u' && piece.variable != 'v' && piece.variable != 'f')
      return std::unexpected(std::string("unknown variable %") + piece.variable + " (known: %u %v %f %%)");
    if (piece.variable == 'f' && piece.base != 'd') return std::unexpected("%f is text; X and x apply to numbers");
    format.pieces_.push_back(std::move(piece));
  }
  if (format.pieces_.empty()) return std::unexpected("the UIDL format is empty");
  for (char c : format.text_)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
      return std::unexpected("UIDLs are printable ASCII without spaces (RFC 1939 §7)");
  return format;
}

std::string UidlFormat::render(std::uint32_t uid, std::uint32_t uidvalidity, std::string_view file_name) const {
  std::string out;
  append(out, uid, uidvalidity, file_name);
  return out;
}

void UidlFormat::append(std::string& out, std::uint32_t uid, std::uint32_t uidvalidity,
                        std::string_view file_name) const {
  for (const Piece& p : pieces_) {
    if (p.variable == 0) {
      out += p.literal;
      continue;
    }
    char digits[16];
    std::string_view value = file_name;
    if (p.variable != 'f') {
      std::uint32_t n = p.variable == 'u' ? uid : uidvalidity;
      // Hexadecimal in lower case for X too: Dovecot's %X writes it so
      // (Debian's Dovecot 2.3.19 answers UIDL "000000016b17250c"), and a
      // migrated client must see the UIDLs it saw before.
      char* end = std::to_chars(digits, digits + sizeof digits, n, p.base == 'd' ? 10 : 16).ptr;
      value = std::string_view(digits, static_cast<std::size_t>(end - digits));
    }
    if (value.size() < p.width) out.append(p.width - value.size(), '0');
    out += value;
  }
}

bool UidlFormat::uses_file_name() const {
  for (const auto& piece : pieces_)
    if (piece.variable == 'f') return true;
  return false;
}

}  // namespace roost

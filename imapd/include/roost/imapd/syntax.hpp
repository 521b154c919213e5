// IMAP command syntax (RFC 3501 §9, RFC 9051 §9 and the extensions imapd
// implements), knowing nothing of sessions or storage.
//
// Reading a command is split in two so that nothing here touches a socket
// (STYLE.md §2): CommandReader takes the command's lines and literals as
// the session reads them and says what must happen next (a literal of n
// bytes follows, with or without a "+" continuation; the command is
// complete; or it is refused before its literal is read, as APPENDLIMIT
// and LITERAL- require). parse_command() then turns the complete command
// into a typed Request or a precise syntax error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "roost/imapd/requests.hpp"

namespace roost::imap {

struct SyntaxLimits {
  std::size_t max_literal = 64 * 1024;                // a literal outside APPEND
  std::uint64_t max_append_literal = 50u << 20;      // a message in APPEND (APPENDLIMIT); also the
                                                     // most of a refused literal that is read and dropped
  std::uint64_t max_append_total = 200u << 20;       // all messages of one APPEND (MULTIAPPEND)
  std::size_t max_command = 256 * 1024;              // lines plus small literals
  bool literal_minus = false;  // LITERAL- (RFC 7888 §5) instead of LITERAL+
};

// One command's text: its lines joined by CRLF, each literal's marker
// ("{n}", "{n+}" or "~{n}") left at the end of its line, and the literals'
// bytes, in order, beside.
struct RawCommand {
  std::string text;
  std::vector<std::string> literals;
};

// The Command alternative (its index in the variant) that a command name
// makes, whatever its arguments ("EXAMINE" makes a Select); nullopt for a
// name that is no command. Lets a session refuse a command its state does
// not allow before reading or parsing its arguments.
std::optional<std::size_t> command_kind(std::string_view name);

class CommandReader {
 public:
  // Asked with the command's name (after any "UID") when its first line
  // arrives: a refusal ("NO [CLIENTBUG] Log in first") when the session may
  // not run it now, so that nothing more of it is read or parsed.
  using Gate = std::function<std::optional<std::string>(std::string_view name)>;

  explicit CommandReader(SyntaxLimits limits, Gate gate = {}) : limits_(limits), gate_(std::move(gate)) {}

  enum class Next {
    complete,  // take() the command
    literal,   // read literal().size bytes (after a "+" when synchronizing), then add_literal()
    discard,   // a refused non-synchronizing literal: read and drop literal().size bytes, then the next line
    refused,   // send response() and start over with the next command
    close,     // send response() and close the connection
  };
  struct Literal {
    std::uint64_t size = 0;
    bool synchronizing = true;
    bool binary = false;  // literal8
  };

  // A line as read, without its CRLF.
  Next add_line(std::string_view line);
  // The bytes of the literal that literal() announced.
  void add_literal(std::string bytes);

  const Literal& literal() const { return literal_; }
  // The tagged (or untagged, when no tag could be read) refusal.
  const std::string& response() const { return response_; }
  RawCommand take();
  // Whether a command has begun (a line was added since the last take()).
  bool in_command() const { return started_; }

 private:
  Next refuse(std::string text, bool close);

  SyntaxLimits limits_;
  Gate gate_;
  RawCommand raw_;
  Literal literal_;
  std::string response_;
  std::string tag_;
  bool started_ = false;
  bool append_ = false;
  bool skipping_ = false;  // a refused non-synchronizing literal: drop the rest of the command
  std::uint64_t literal_total_ = 0;
};

struct SyntaxError {
  std::string tag;   // empty when no valid tag was read: answered "* BAD"
  std::string text;  // what was wrong, for the client
};

std::variant<Request, SyntaxError> parse_command(const RawCommand& raw);

// RFC 9051 date-time ("17-Jul-1996 02:44:25 -0700") as seconds since 1970.
std::optional<std::int64_t> parse_date_time(std::string_view text);

}  // namespace roost::imap

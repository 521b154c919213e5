// Running a login on a session, the same way for every protocol: SASL steps
// on the auth pool (never on an io thread), concurrent attempts per address
// limited, failures delayed and answered alike, the outcome logged and
// counted. The protocol supplies only how a challenge is sent and an answer
// read (IMAP "+ ", POP3 "+ ", SMTP "334 ").
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "roost/core/server.hpp"

namespace roost {

struct ClientAnswer {
  enum class Kind { data, cancelled, malformed, lost };
  Kind kind = Kind::lost;
  std::string data;  // decoded bytes, for Kind::data
};

// Sends `challenge` (raw bytes; the protocol base64-encodes it) and reads the
// client's answer.
using ChallengeExchange = std::function<asio::awaitable<ClientAnswer>(std::string_view challenge)>;

struct AuthOutcome {
  enum class Kind {
    success,         // session.user is set
    failure,         // wrong credentials or unknown user: say so, alike for both
    cancelled,       // the client sent "*"
    malformed,       // the client's data was not valid base64 or not allowed
    no_mechanism,    // the mechanism is not offered on this connection
    too_many,        // too many authentications in progress from this address
    temporary,       // internal failure: try again later
    lost,            // connection lost or stopped
  };
  Kind kind = Kind::failure;
};

// IMAP's and POP3's way of talking SASL: a challenge goes out as a
// "+ <base64>" line and the answer is one base64 line, "*" to cancel
// (RFC 9051 §6.2.2, RFC 5034 §4).
ChallengeExchange base64_line_exchange(Session& session);

// An initial response as sent on the command line: "=" for an empty one
// (RFC 4959, RFC 5034), else base64. nullopt when it is not valid base64.
std::optional<std::string> decode_initial_response(std::string_view text);

// AUTHENTICATE / AUTH: `initial` is the decoded initial response, if any.
asio::awaitable<AuthOutcome> authenticate_sasl(Session& session, std::string_view mechanism,
                                               std::optional<std::string> initial,
                                               const ChallengeExchange& exchange);

// LOGIN / USER+PASS. Callers check session.plaintext_allowed() first.
asio::awaitable<AuthOutcome> authenticate_password(Session& session, std::string_view user,
                                                   std::string_view password);

// The mechanisms to advertise on this session now (asks libsasl, on the
// auth pool).
asio::awaitable<std::vector<std::string>> offered_mechanisms(Session& session);

// The SASL service name for a protocol ("imap", "pop", "lmtp").
std::string sasl_service_name(std::string_view service);

}  // namespace roost

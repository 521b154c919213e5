// Turning a cleartext connection into TLS in the middle of a protocol
// (IMAP STARTTLS, POP3 STLS, LMTP STARTTLS), the same way for every service.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "roost/core/server.hpp"

namespace roost {

// Whether this connection may start TLS now: a STARTTLS listener, TLS not
// yet active, and a certificate loaded.
bool tls_upgrade_offered(const Session& session);

// Call after the protocol's go-ahead reply is queued. Sends it, drops
// whatever the client pipelined behind the command (it came in cleartext: a
// STARTTLS injection, RFC 9051 §11.1, RFC 3207 §6), and runs the handshake.
// False when the connection is lost or the handshake failed; the caller
// ends the session then.
asio::awaitable<bool> upgrade_to_tls(Session& session);

}  // namespace roost

// The POP3 service (RFC 1939 with CAPA, STLS, AUTH and the response codes
// of RFC 2449 and RFC 3206): the INBOX as a maildrop snapshot per session.
#pragma once

#include "roost/core/server.hpp"

namespace roost::pop3 {

ServiceFactory service_factory();

}  // namespace roost::pop3

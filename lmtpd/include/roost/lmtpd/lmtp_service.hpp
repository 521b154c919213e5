// The LMTP service (RFC 2033): the MTA's local delivery handoff. Every
// reply is true: 250 only once the message is durable in that recipient's
// folder, 4xx when retrying can help, 5xx when it cannot.
#pragma once

#include "roost/core/server.hpp"

namespace roost::lmtp {

ServiceFactory service_factory();

}  // namespace roost::lmtp

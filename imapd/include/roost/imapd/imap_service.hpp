// The IMAP service (RFC 3501, RFC 9051) for roostd's listeners.
#pragma once

#include "roost/core/server.hpp"

namespace roost::imap {

ServiceFactory service_factory();

}  // namespace roost::imap

// The `socketmap` service ([listener] service = socketmap): Postfix's
// socketmap look-ups answered from the directory (socketmap.hpp).
#pragma once

#include "roost/core/server.hpp"

namespace roost::proxy {

ServiceFactory socketmap_service_factory();

}  // namespace roost::proxy

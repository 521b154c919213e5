#pragma once

#include "roost/core/server.hpp"

namespace roost::testing {
ServiceFactory test_service_factory();
}

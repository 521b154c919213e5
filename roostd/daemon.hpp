// roostd's command line and life cycle, shared by roostd and the test daemon.
#pragma once

#include <vector>

#include "roost/core/server.hpp"

namespace roost {

// roostd --config FILE [--check-config] [--only SERVICE...]
// Returns the process exit code.
int daemon_main(int argc, char** argv, std::vector<ServiceFactory> services);

}  // namespace roost

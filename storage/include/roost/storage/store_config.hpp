// The storage settings of roost.conf's [mail] section.
#pragma once

#include "roost/core/config.hpp"
#include "roost/storage/storage.hpp"

namespace roost::storage {

StoreConfig store_config(const Config& config);

}  // namespace roost::storage

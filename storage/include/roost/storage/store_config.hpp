// The storage settings of roost.conf's [mail] section.
#pragma once

#include <memory>

#include "roost/core/config.hpp"
#include "roost/core/metrics.hpp"
#include "roost/storage/storage.hpp"

namespace roost::storage {

StoreConfig store_config(const Config& config);

// The one Store of this process, made from the first configuration it is
// asked with: every service shares its folders, and so its group commits.
// Its counters (roost_folder_scans_total) go to `metrics`.
std::shared_ptr<Store> shared_store(const Config& config, Metrics& metrics);

}  // namespace roost::storage

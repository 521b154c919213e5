#include "roost/storage/store_config.hpp"

#include <unistd.h>

#include <mutex>

namespace roost::storage {

StoreConfig store_config(const Config& config) {
  StoreConfig out;
  out.mail_root = config.mail.mail_dir;
  out.host_name = config.mail.host_name;
  if (out.host_name.empty()) {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) == 0) out.host_name = name;
  }
  for (const auto& [name, attribute] : config.mail.default_folders) {
    DefaultFolder folder{name, SpecialUse::none};
    for (auto use : {SpecialUse::drafts, SpecialUse::sent, SpecialUse::trash, SpecialUse::junk, SpecialUse::archive,
                     SpecialUse::all, SpecialUse::flagged})
      if (special_use_attribute(use) == attribute) folder.use = use;
    out.default_folders.push_back(std::move(folder));
  }
  out.auto_subscribe_defaults = config.mail.auto_subscribe;
  out.quota_bytes = config.mail.quota_storage;
  out.quota_messages = config.mail.quota_messages;
  out.open_index_limit = config.mail.open_index_limit;
  out.full_sync_interval = config.mail.full_sync_interval;
  out.commit_delay = config.mail.commit_delay;
  out.fsync_changes = config.mail.fsync_always;
  out.disk_reserve = config.mail.disk_reserve;
  return out;
}

std::shared_ptr<Store> shared_store(const Config& config, Metrics& metrics) {
  static std::mutex mutex;
  static std::shared_ptr<Store> store;
  std::lock_guard lock(mutex);
  if (!store) {
    store = std::make_shared<Store>(store_config(config));
    metrics.add_collector([](Metrics& m) {
      m.series("roost_folder_scans_total").store(static_cast<std::int64_t>(folder_scans()), std::memory_order_relaxed);
      m.series("roost_index_commits_total").store(static_cast<std::int64_t>(group_commits()), std::memory_order_relaxed);
    });
  }
  return store;
}

}  // namespace roost::storage

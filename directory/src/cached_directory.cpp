// A look-up cache in front of a directory engine (PostgreSQL): users are
// remembered for [directory] cache_ttl, dropped at once when the engine
// reports a change (NOTIFY), and served past their time while the engine
// cannot be reached (up to cache_stale), so that users who logged in lately
// keep logging in through a database outage. Writes go to the engine and
// drop the entry.
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "roost/directory/directory.hpp"

namespace roost::directory {
namespace {

using Clock = std::chrono::steady_clock;

class CachedDirectory final : public Directory {
 public:
  CachedDirectory(std::unique_ptr<Directory> engine, CacheSettings settings)
      : engine_(std::move(engine)), settings_(settings) {
    // Without notifications (the embedded engine) entries simply expire.
    (void)engine_->watch([this](const Change& change) { changed(change); });
  }

  // The engine (and its notification thread, which calls changed()) ends
  // before the entries do.
  ~CachedDirectory() override { engine_.reset(); }

  const std::string& decoy_key() const override { return engine_->decoy_key(); }

  std::expected<std::optional<User>, std::string> user(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::optional<User>{};
    const auto now = Clock::now();
    std::optional<std::optional<User>> stale;
    {
      std::lock_guard lock(mutex_);
      if (auto it = entries_.find(*canonical); it != entries_.end()) {
        if (now < it->second.fresh_until) return it->second.user;
        if (now < it->second.stale_until) stale = it->second.user;
      }
    }
    auto fetched = engine_->user(*canonical);
    if (!fetched) {
      if (stale) return *stale;
      return fetched;
    }
    std::lock_guard lock(mutex_);
    if (entries_.size() >= settings_.max_entries) {
      std::erase_if(entries_, [&](const auto& e) { return e.second.stale_until <= now; });
      if (entries_.size() >= settings_.max_entries) entries_.clear();
    }
    entries_[*canonical] = Entry{*fetched, now + settings_.ttl, now + settings_.ttl + settings_.stale};
    return fetched;
  }

  std::expected<std::optional<UserRecord>, std::string> find_fresh(std::string_view name) const override {
    if (auto canonical = canonical_user_name(name)) forget(*canonical);
    return find(name);
  }

  std::expected<void, std::string> add(const User& u) override { return forgetting(u.credentials.name, engine_->add(u)); }
  std::expected<void, std::string> replace_credentials(const UserRecord& c) override {
    return forgetting(c.name, engine_->replace_credentials(c));
  }
  std::expected<void, std::string> remove(std::string_view name) override {
    return forgetting(name, engine_->remove(name));
  }
  std::expected<std::vector<std::string>, std::string> users(std::optional<std::string_view> shard) const override {
    return engine_->users(shard);
  }
  std::expected<std::map<std::string, std::size_t>, std::string> users_per_shard() const override {
    return engine_->users_per_shard();
  }
  std::expected<bool, std::string> set_route(std::string_view name, std::uint64_t expected_generation,
                                             Route route) override {
    auto written = engine_->set_route(name, expected_generation, std::move(route));
    if (auto canonical = canonical_user_name(name)) forget(*canonical);
    return written;
  }
  std::expected<std::optional<std::string>, std::string> alias_target(std::string_view alias) const override {
    return engine_->alias_target(alias);
  }
  std::expected<void, std::string> add_alias(std::string_view alias, std::string_view name) override {
    return engine_->add_alias(alias, name);
  }
  std::expected<void, std::string> remove_alias(std::string_view alias) override {
    return engine_->remove_alias(alias);
  }
  std::expected<std::vector<std::string>, std::string> aliases(std::string_view name) const override {
    return engine_->aliases(name);
  }
  std::expected<std::vector<Shard>, std::string> shards() const override { return engine_->shards(); }
  std::expected<void, std::string> put_shard(const Shard& shard) override { return engine_->put_shard(shard); }
  std::expected<void, std::string> remove_shard(std::string_view id) override { return engine_->remove_shard(id); }

  std::expected<void, std::string> watch(std::function<void(const Change&)> on_change) override {
    std::lock_guard lock(mutex_);
    on_change_ = std::move(on_change);
    return {};
  }

 private:
  struct Entry {
    std::optional<User> user;  // absent: no such user (cached too)
    Clock::time_point fresh_until, stale_until;
  };

  void forget(const std::string& canonical) const {
    std::lock_guard lock(mutex_);
    entries_.erase(canonical);
  }

  std::expected<void, std::string> forgetting(std::string_view name, std::expected<void, std::string> result) {
    if (auto canonical = canonical_user_name(name)) forget(*canonical);
    return result;
  }

  void changed(const Change& change) {
    std::function<void(const Change&)> forward;
    {
      std::lock_guard lock(mutex_);
      if (change.kind == Change::Kind::user) entries_.erase(change.key);
      if (change.kind == Change::Kind::reset) entries_.clear();
      forward = on_change_;
    }
    if (forward) forward(change);
  }

  std::unique_ptr<Directory> engine_;
  const CacheSettings settings_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Entry> entries_;
  std::function<void(const Change&)> on_change_;
};

}  // namespace

std::unique_ptr<Directory> cached(std::unique_ptr<Directory> engine, CacheSettings settings) {
  return std::make_unique<CachedDirectory>(std::move(engine), settings);
}

}  // namespace roost::directory

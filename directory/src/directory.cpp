#include "roost/directory/directory.hpp"

#include <limits>

#include "roost/core/ascii.hpp"

namespace roost::directory {

std::string_view to_string(ShardState state) {
  switch (state) {
    case ShardState::up: return "up";
    case ShardState::draining: return "draining";
    case ShardState::down: return "down";
  }
  return "up";
}

std::string_view to_string(UserState state) {
  switch (state) {
    case UserState::active: return "active";
    case UserState::moving: return "moving";
    case UserState::disabled: return "disabled";
  }
  return "active";
}

std::optional<ShardState> shard_state(std::string_view text) {
  for (auto s : {ShardState::up, ShardState::draining, ShardState::down})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

std::optional<UserState> user_state(std::string_view text) {
  for (auto s : {UserState::active, UserState::moving, UserState::disabled})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

std::expected<void, std::string> check_shard_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return std::unexpected("a shard id is 1 to 64 bytes");
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return std::unexpected("a shard id holds only a-z, 0-9, '.', '_' and '-': " + std::string(id));
  }
  return {};
}

std::optional<std::string> place(const std::vector<Shard>& shards, const std::map<std::string, std::size_t>& users) {
  std::optional<std::string> best;
  double best_load = std::numeric_limits<double>::infinity();
  for (const auto& s : shards) {
    if (s.state != ShardState::up || s.weight == 0) continue;
    auto it = users.find(s.id);
    // Load per unit of weight; the +1 makes a heavier empty shard win over a
    // lighter empty one.
    const double load = (static_cast<double>(it == users.end() ? 0 : it->second) + 1) / s.weight;
    if (load < best_load) {
      best_load = load;
      best = s.id;
    }
  }
  return best;
}

std::expected<std::optional<UserRecord>, std::string> Directory::find(std::string_view name) const {
  auto found = user(name);
  if (!found) return std::unexpected(found.error());
  if (!*found || (*found)->route.state == UserState::disabled) return std::optional<UserRecord>{};
  return std::optional<UserRecord>((*found)->credentials);
}

std::expected<void, std::string> Directory::admit(std::string_view name) const {
  auto found = user(name);
  if (!found) return std::unexpected(found.error());
  if (!*found) return std::unexpected("no such user");
  return admits((*found)->route);
}

std::expected<void, std::string> Directory::admits(const Route& route) const {
  if (!route.shard.empty() && route.shard != own_shard_)
    return std::unexpected("the user's mail is on shard " + route.shard +
                           (own_shard_.empty() ? std::string(", this node has none") : ", this node is " + own_shard_));
  if (route.state != UserState::active)
    return std::unexpected("the user is " + std::string(to_string(route.state)));
  return {};
}

std::expected<std::optional<Recipient>, std::string> find_recipient(const Directory& dir, std::string_view address,
                                                                    std::string_view default_domain,
                                                                    std::string_view separator) {
  const std::size_t at = address.rfind('@');
  const std::string local(address.substr(0, at));
  const std::string domain = at == std::string_view::npos ? "" : ascii_lowercase(address.substr(at + 1));
  struct Candidate {
    std::string name, detail;
  };
  std::vector<Candidate> candidates;
  auto add_names = [&](const std::string& part, const std::string& detail) {
    if (!domain.empty()) candidates.push_back({part + "@" + domain, detail});
    if (domain.empty() || domain == default_domain) candidates.push_back({part, detail});
    if (domain.empty() && !default_domain.empty()) candidates.push_back({part + "@" + std::string(default_domain), detail});
  };
  // The whole local part first: with users "a" and "a+b", mail for "a+b" is
  // b's. Only when no user has it is the detail cut off.
  add_names(local, "");
  if (!separator.empty()) {
    if (std::size_t cut = local.find(separator[0]); cut != std::string::npos)
      add_names(local.substr(0, cut), local.substr(cut + 1));
  }
  for (const auto& [name, detail] : candidates) {
    auto user = dir.user(name);
    if (!user) return std::unexpected(user.error());
    if (!*user) {
      auto target = dir.alias_target(name);
      if (!target) return std::unexpected(target.error());
      if (!*target) continue;
      user = dir.user(**target);
      if (!user) return std::unexpected(user.error());
    }
    if (*user && (*user)->route.state != UserState::disabled)
      return std::optional<Recipient>(Recipient{std::move(**user), detail});
  }
  return std::optional<Recipient>{};
}

std::expected<std::unique_ptr<Directory>, std::string> open_directory(const Config& config, bool create) {
  std::expected<std::unique_ptr<Directory>, std::string> opened;
  if (config.directory.engine == "postgresql") {
    opened = open_postgresql(config.directory.conninfo, config.directory.pool_size);
    if (opened)
      opened = cached(std::move(*opened), CacheSettings{.ttl = config.directory.cache_ttl,
                                                        .stale = config.directory.cache_stale,
                                                        .max_entries = config.directory.cache_size});
  } else {
    opened = open_lmdb(config.auth.user_db, create);
  }
  if (opened) (*opened)->set_own_shard(config.directory.shard);
  return opened;
}

}  // namespace roost::directory

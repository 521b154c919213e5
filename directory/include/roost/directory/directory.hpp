// directory: who the users are, their credentials, and the shard that holds
// each one's mail (DESIGN.md layers; ../shared/PROXY.md §9.2).
//
// A user's route names a shard by id; a shard names its endpoints, so
// replacing a machine is one shard change. The route's generation is a
// fencing token: every change of shard or state takes it one higher, and
// set_route() writes only over the generation the caller read (compare and
// set), so two movers cannot both win.
//
// One interface, engines behind it: the embedded LMDB engine (the instance's
// user database, the default) now; PostgreSQL past one machine next.
// Thread-safe; every call may block (a database), so services call it on the
// blocking pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/config.hpp"
#include "roost/core/credentials.hpp"

namespace roost::directory {

enum class ShardState : std::uint8_t { up, draining, down };
enum class UserState : std::uint8_t { active, moving, disabled };

std::string_view to_string(ShardState state);
std::string_view to_string(UserState state);
std::optional<ShardState> shard_state(std::string_view text);
std::optional<UserState> user_state(std::string_view text);

struct Shard {
  std::string id;                // [a-z0-9._-], 1-64 bytes
  std::string imap, pop3, lmtp;  // endpoints, "host:port" (empty: the service is not offered)
  ShardState state = ShardState::up;
  unsigned weight = 100;         // share of new users, relative to the others
};

struct Route {
  std::string shard;  // empty: this node's own mail (a single machine)
  UserState state = UserState::active;
  std::uint64_t generation = 1;
  std::int64_t delay_until = 0;  // seconds since 1970: logins wait until then (a move)
};

struct QuotaLimits {
  std::uint64_t bytes = 0, messages = 0;  // 0: no limit
};

struct User {
  UserRecord credentials;  // credentials.name is the user's canonical name
  Route route;
  std::optional<QuotaLimits> quota;  // absent: the configured defaults
};

// What changed in the directory (a watcher's cache drops that entry);
// `reset` after the watch connection was lost: anything may have changed.
struct Change {
  enum class Kind : std::uint8_t { user, shard, reset };
  Kind kind = Kind::reset;
  std::string key;  // the user's canonical name or the shard's id
};

// A shard id: 1-64 bytes of [a-z0-9._-], or the reason it is not one.
std::expected<void, std::string> check_shard_id(std::string_view id);

class Directory : public CredentialSource {
 public:
  // What authentication asks: the credentials of user(); none for a
  // disabled user, who cannot log in (and looks like no user at all).
  std::expected<std::optional<UserRecord>, std::string> find(std::string_view name) const final;
  // A node serves a user whose route names no shard or this node's
  // ([directory] shard), in state active; the generation it served last is
  // not yet checked (the proxy's fencing, issue 24).
  std::expected<void, std::string> admit(std::string_view user) const final;
  // The same for a route at hand (LMTP has just looked the user up).
  std::expected<void, std::string> admits(const Route& route) const;
  void set_own_shard(std::string shard) { own_shard_ = std::move(shard); }
  const std::string& own_shard() const { return own_shard_; }

  // Users. add() refuses a name that exists; replace_credentials() keeps
  // the route; remove() takes the route too.
  virtual std::expected<std::optional<User>, std::string> user(std::string_view name) const = 0;
  virtual std::expected<void, std::string> add(const User& user) = 0;
  virtual std::expected<void, std::string> replace_credentials(const UserRecord& credentials) = 0;
  virtual std::expected<void, std::string> remove(std::string_view name) = 0;
  // Every user's canonical name, or those routed to `shard`, sorted.
  virtual std::expected<std::vector<std::string>, std::string> users(
      std::optional<std::string_view> shard = std::nullopt) const = 0;
  // How many users each shard holds ("" for local users), in one pass.
  virtual std::expected<std::map<std::string, std::size_t>, std::string> users_per_shard() const = 0;
  // Writes `route` (with its generation set to `expected_generation` + 1)
  // if the user's route still has `expected_generation`: true if written,
  // false if another change came first.
  virtual std::expected<bool, std::string> set_route(std::string_view name, std::uint64_t expected_generation,
                                                     Route route) = 0;

  // Aliases: other addresses mail for a user is delivered under (LMTP,
  // the socketmap); never a login name. An alias is a valid user name that
  // no user has; removing a user removes its aliases.
  virtual std::expected<std::optional<std::string>, std::string> alias_target(std::string_view alias) const = 0;
  virtual std::expected<void, std::string> add_alias(std::string_view alias, std::string_view name) = 0;
  virtual std::expected<void, std::string> remove_alias(std::string_view alias) = 0;
  virtual std::expected<std::vector<std::string>, std::string> aliases(std::string_view name) const = 0;

  // Shards, sorted by id. remove_shard() refuses a shard users still name.
  virtual std::expected<std::vector<Shard>, std::string> shards() const = 0;
  virtual std::expected<void, std::string> put_shard(const Shard& shard) = 0;
  virtual std::expected<void, std::string> remove_shard(std::string_view id) = 0;

  // Calls `on_change` (on a thread of the directory's own) for every change
  // any writer makes, at once: PostgreSQL's NOTIFY. Once per directory. The
  // embedded engine has no notifications (an error says so); a cache over
  // it expires its entries instead.
  virtual std::expected<void, std::string> watch(std::function<void(const Change&)> on_change) = 0;

 private:
  std::string own_shard_;  // empty: this node serves local users only
};

// The user mail for `address` is delivered to, as LMTP and the socketmap
// both find it: the whole address, then the local part alone when the
// domain is `default_domain` (or absent), then the same with a +detail cut
// off at `separator` (RFC 5233); each name as a user, else as an alias.
// Disabled users are not found. `detail` is what was cut off.
struct Recipient {
  User user;
  std::string detail;
};
std::expected<std::optional<Recipient>, std::string> find_recipient(const Directory& dir, std::string_view address,
                                                                    std::string_view default_domain,
                                                                    std::string_view separator);

// The shard a new user goes to: among shards that are up, the one with the
// fewest users for its weight (`users` counts each shard's users). Absent
// when no shard is up (a single machine: the user's mail is local).
std::optional<std::string> place(const std::vector<Shard>& shards, const std::map<std::string, std::size_t>& users);

// The embedded engine: an LMDB environment in `dir` (the instance's user
// database, [auth] user_db). LMDB allows one open per process: open it once
// and share it.
std::expected<std::unique_ptr<Directory>, std::string> open_lmdb(const std::filesystem::path& dir, bool create);

// The PostgreSQL engine: `conninfo` is a libpq connection string; up to
// `pool_size` connections for look-ups. The schema must exist
// (init_postgresql, `roostctl directory init`).
std::expected<std::unique_ptr<Directory>, std::string> open_postgresql(const std::string& conninfo,
                                                                       unsigned pool_size);
// Creates the schema of docs/directory.md (tables, index, notify triggers);
// running it again changes nothing.
std::expected<void, std::string> init_postgresql(const std::string& conninfo);

// A look-up cache in front of `engine` (directory/src/cached_directory.cpp):
// users for `ttl`, dropped at once on the engine's change notifications,
// and served up to `stale` longer while the engine cannot be reached.
struct CacheSettings {
  std::chrono::milliseconds ttl{10000};
  std::chrono::milliseconds stale{15 * 60 * 1000};
  std::size_t max_entries = 1000000;
};
std::unique_ptr<Directory> cached(std::unique_ptr<Directory> engine, CacheSettings settings);

// The engine the configuration names ([directory] engine), PostgreSQL with
// the look-up cache in front; `create` makes the embedded engine's folder
// when missing.
std::expected<std::unique_ptr<Directory>, std::string> open_directory(const Config& config, bool create);

}  // namespace roost::directory

// The embedded directory engine: one LMDB environment (the instance's user
// database). Keys are users' canonical names, whose values are text records
// ("v1" and key=value lines: unknown keys are skipped, so records written
// before routes existed read as local users); shards and the decoy key sit
// under keys no user name can have (they start with a control byte).
#include <lmdb.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <sstream>

#include "roost/directory/directory.hpp"

namespace roost::directory {
namespace {

// "\x01" stands alone: a hex escape would swallow the "dec" that follows.
constexpr std::string_view kDecoyKeyName = "\x01" "decoy-key";
constexpr std::string_view kShardPrefix = "\x02" "shard:";
constexpr std::string_view kAliasPrefix = "\x03" "alias:";
constexpr std::string_view kRecordVersion = "v1";

std::string lmdb_error(std::string_view what, int rc) { return std::string(what) + ": " + mdb_strerror(rc); }

MDB_val as_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view as_view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

std::uint64_t to_number(std::string_view text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// key=value lines after the version line; nullopt for another version.
std::optional<std::map<std::string, std::string>> fields_of(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != kRecordVersion) return std::nullopt;
  std::map<std::string, std::string> out;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

std::string serialize(const User& u) {
  const Route& r = u.route;
  std::string out = std::string(kRecordVersion) + "\nhash=" + u.credentials.password_hash +
                    "\nscram-sha-1=" + u.credentials.scram_sha1 + "\nscram-sha-256=" + u.credentials.scram_sha256 +
                    "\nshard=" + r.shard + "\nstate=" + std::string(to_string(r.state)) +
                    "\ngeneration=" + std::to_string(r.generation) + "\ndelay-until=" + std::to_string(r.delay_until) +
                    "\n";
  if (u.quota)
    out += "quota-bytes=" + std::to_string(u.quota->bytes) + "\nquota-messages=" + std::to_string(u.quota->messages) +
           "\n";
  return out;
}

std::optional<User> deserialize(std::string_view name, std::string_view text) {
  auto fields = fields_of(text);
  if (!fields) return std::nullopt;
  auto get = [&](const char* key) {
    auto it = fields->find(key);
    return it == fields->end() ? std::string() : it->second;
  };
  User u;
  u.credentials.name = std::string(name);
  u.credentials.password_hash = get("hash");
  u.credentials.scram_sha1 = get("scram-sha-1");
  u.credentials.scram_sha256 = get("scram-sha-256");
  if (u.credentials.password_hash.empty()) return std::nullopt;
  u.route.shard = get("shard");
  u.route.state = user_state(get("state")).value_or(UserState::active);
  if (auto g = to_number(get("generation")); g > 0) u.route.generation = g;
  u.route.delay_until = static_cast<std::int64_t>(to_number(get("delay-until")));
  if (fields->contains("quota-bytes") || fields->contains("quota-messages"))
    u.quota = QuotaLimits{to_number(get("quota-bytes")), to_number(get("quota-messages"))};
  return u;
}

std::string serialize(const Shard& s) {
  return std::string(kRecordVersion) + "\nimap=" + s.imap + "\npop3=" + s.pop3 + "\nlmtp=" + s.lmtp +
         "\nstate=" + std::string(to_string(s.state)) + "\nweight=" + std::to_string(s.weight) + "\n";
}

std::optional<Shard> deserialize_shard(std::string_view id, std::string_view text) {
  auto fields = fields_of(text);
  if (!fields) return std::nullopt;
  Shard s;
  s.id = std::string(id);
  s.imap = (*fields)["imap"];
  s.pop3 = (*fields)["pop3"];
  s.lmtp = (*fields)["lmtp"];
  s.state = shard_state((*fields)["state"]).value_or(ShardState::up);
  s.weight = static_cast<unsigned>(to_number((*fields)["weight"]));
  return s;
}

class LmdbDirectory final : public Directory {
 public:
  ~LmdbDirectory() override {
    if (env_ != nullptr) mdb_env_close(env_);
  }

  static std::expected<std::unique_ptr<LmdbDirectory>, std::string> open(const std::filesystem::path& dir,
                                                                          bool create) {
    std::error_code ec;
    if (create) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return std::unexpected("cannot create " + dir.string() + ": " + ec.message());
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    } else if (!std::filesystem::is_directory(dir, ec)) {
      return std::unexpected("no user database at " + dir.string() +
                             " (create it with roostctl init or roostctl user add)");
    }
    std::unique_ptr<LmdbDirectory> d(new LmdbDirectory());
    int rc = mdb_env_create(&d->env_);
    if (rc != 0) return std::unexpected(lmdb_error("mdb_env_create", rc));
    mdb_env_set_maxreaders(d->env_, 126);
    mdb_env_set_mapsize(d->env_, std::size_t{1} << 30);
    rc = mdb_env_open(d->env_, dir.c_str(), MDB_NOTLS, 0600);
    if (rc != 0) return std::unexpected(lmdb_error("cannot open " + dir.string(), rc));
    int dead = 0;
    mdb_reader_check(d->env_, &dead);
    auto made = d->write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      if (int opened = mdb_dbi_open(txn, nullptr, 0, &d->dbi_); opened != 0)
        return std::unexpected(lmdb_error("mdb_dbi_open", opened));
      MDB_val key = as_val(kDecoyKeyName), value{};
      int found = mdb_get(txn, d->dbi_, &key, &value);
      if (found == 0) {
        d->decoy_key_ = std::string(as_view(value));
        return {};
      }
      if (found != MDB_NOTFOUND) return std::unexpected(lmdb_error("mdb_get", found));
      d->decoy_key_.assign(32, '\0');
      if (RAND_bytes(reinterpret_cast<unsigned char*>(d->decoy_key_.data()), 32) != 1)
        return std::unexpected("no random bytes available");
      value = as_val(d->decoy_key_);
      if (int put = mdb_put(txn, d->dbi_, &key, &value, MDB_NOOVERWRITE); put != 0)
        return std::unexpected(lmdb_error("cannot initialise the user database", put));
      return {};
    });
    if (!made) return std::unexpected(made.error());
    return d;
  }

  const std::string& decoy_key() const override { return decoy_key_; }

  std::expected<std::optional<User>, std::string> user(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::optional<User>{};
    std::optional<User> out;
    auto read = this->read([&](MDB_txn* txn) -> std::expected<void, std::string> {
      auto text = get(txn, *canonical);
      if (!text) return std::unexpected(text.error());
      if (*text) out = deserialize(*canonical, **text);
      return {};
    });
    if (!read) return std::unexpected(read.error());
    return out;
  }

  std::expected<void, std::string> add(const User& u) override {
    auto canonical = canonical_user_name(u.credentials.name);
    if (!canonical) return std::unexpected(canonical.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      auto alias = get(txn, std::string(kAliasPrefix) + *canonical);
      if (!alias) return std::unexpected(alias.error());
      if (*alias) return std::unexpected(*canonical + " is an alias of " + **alias);
      std::string text = serialize(u);
      MDB_val key = as_val(*canonical), value = as_val(text);
      int rc = mdb_put(txn, dbi_, &key, &value, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) return std::unexpected("user already exists: " + *canonical);
      if (rc != 0) return std::unexpected(lmdb_error("mdb_put", rc));
      return {};
    });
  }

  std::expected<void, std::string> replace_credentials(const UserRecord& credentials) override {
    return update(credentials.name, [&](User& u) -> std::expected<bool, std::string> {
      u.credentials = credentials;
      return true;
    });
  }

  std::expected<void, std::string> remove(std::string_view name) override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::unexpected(canonical.error());
    auto own = aliases(*canonical);
    if (!own) return std::unexpected(own.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      MDB_val key = as_val(*canonical);
      int rc = mdb_del(txn, dbi_, &key, nullptr);
      if (rc == MDB_NOTFOUND) return std::unexpected("no such user: " + *canonical);
      if (rc != 0) return std::unexpected(lmdb_error("mdb_del", rc));
      for (const auto& alias : *own) {
        std::string k = std::string(kAliasPrefix) + alias;
        MDB_val alias_key = as_val(k);
        if (int gone = mdb_del(txn, dbi_, &alias_key, nullptr); gone != 0 && gone != MDB_NOTFOUND)
          return std::unexpected(lmdb_error("mdb_del", gone));
      }
      return {};
    });
  }

  std::expected<std::optional<std::string>, std::string> alias_target(std::string_view alias) const override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::optional<std::string>{};
    std::optional<std::string> out;
    auto read = this->read([&](MDB_txn* txn) -> std::expected<void, std::string> {
      auto target = get(txn, std::string(kAliasPrefix) + *canonical);
      if (!target) return std::unexpected(target.error());
      out = *target;
      return {};
    });
    if (!read) return std::unexpected(read.error());
    return out;
  }

  std::expected<void, std::string> add_alias(std::string_view alias, std::string_view name) override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::unexpected(canonical.error());
    auto target = canonical_user_name(name);
    if (!target) return std::unexpected(target.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      auto user = get(txn, *target);
      if (!user) return std::unexpected(user.error());
      if (!*user) return std::unexpected("no such user: " + *target);
      auto taken = get(txn, *canonical);
      if (!taken) return std::unexpected(taken.error());
      if (*taken) return std::unexpected(*canonical + " is a user");
      std::string k = std::string(kAliasPrefix) + *canonical;
      MDB_val key = as_val(k), value = as_val(*target);
      int rc = mdb_put(txn, dbi_, &key, &value, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) return std::unexpected("alias already exists: " + *canonical);
      if (rc != 0) return std::unexpected(lmdb_error("mdb_put", rc));
      return {};
    });
  }

  std::expected<void, std::string> remove_alias(std::string_view alias) override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::unexpected(canonical.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      std::string k = std::string(kAliasPrefix) + *canonical;
      MDB_val key = as_val(k);
      int rc = mdb_del(txn, dbi_, &key, nullptr);
      if (rc == MDB_NOTFOUND) return std::unexpected("no such alias: " + *canonical);
      if (rc != 0) return std::unexpected(lmdb_error("mdb_del", rc));
      return {};
    });
  }

  std::expected<std::vector<std::string>, std::string> aliases(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::vector<std::string>{};
    std::vector<std::string> out;
    auto read = each(txn_kind::aliases, [&](std::string_view key, std::string_view value) {
      if (value == *canonical) out.emplace_back(key.substr(kAliasPrefix.size()));
    });
    if (!read) return std::unexpected(read.error());
    return out;
  }

  std::expected<std::vector<std::string>, std::string> users(std::optional<std::string_view> shard) const override {
    std::vector<std::string> names;
    auto read = each(txn_kind::users, [&](std::string_view key, std::string_view value) {
      if (!shard) {
        names.emplace_back(key);
        return;
      }
      auto u = deserialize(key, value);
      if (u && u->route.shard == *shard) names.emplace_back(key);
    });
    if (!read) return std::unexpected(read.error());
    return names;
  }

  std::expected<void, std::string> watch(std::function<void(const Change&)>) override {
    return std::unexpected("the embedded directory sends no change notifications");
  }

  std::expected<std::map<std::string, std::size_t>, std::string> users_per_shard() const override {
    std::map<std::string, std::size_t> out;
    auto read = each(txn_kind::users, [&](std::string_view key, std::string_view value) {
      if (auto u = deserialize(key, value)) ++out[u->route.shard];
    });
    if (!read) return std::unexpected(read.error());
    return out;
  }

  std::expected<bool, std::string> set_route(std::string_view name, std::uint64_t expected_generation,
                                             Route route) override {
    if (!route.shard.empty()) {
      if (auto valid = check_shard_id(route.shard); !valid) return std::unexpected(valid.error());
    }
    bool written = false;
    auto updated = update(name, [&](User& u) -> std::expected<bool, std::string> {
      if (u.route.generation != expected_generation) return false;
      route.generation = expected_generation + 1;
      u.route = route;
      written = true;
      return true;
    });
    if (!updated) return std::unexpected(updated.error());
    return written;
  }

  std::expected<std::vector<Shard>, std::string> shards() const override {
    std::vector<Shard> out;
    auto read = each(txn_kind::shards, [&](std::string_view key, std::string_view value) {
      if (auto s = deserialize_shard(key.substr(kShardPrefix.size()), value)) out.push_back(std::move(*s));
    });
    if (!read) return std::unexpected(read.error());
    return out;
  }

  std::expected<void, std::string> put_shard(const Shard& shard) override {
    if (auto valid = check_shard_id(shard.id); !valid) return std::unexpected(valid.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      std::string k = std::string(kShardPrefix) + shard.id, text = serialize(shard);
      MDB_val key = as_val(k), value = as_val(text);
      if (int rc = mdb_put(txn, dbi_, &key, &value, 0); rc != 0) return std::unexpected(lmdb_error("mdb_put", rc));
      return {};
    });
  }

  std::expected<void, std::string> remove_shard(std::string_view id) override {
    auto named = users(id);
    if (!named) return std::unexpected(named.error());
    if (!named->empty())
      return std::unexpected("shard " + std::string(id) + " still holds " + std::to_string(named->size()) +
                             " users (move them first)");
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      std::string k = std::string(kShardPrefix) + std::string(id);
      MDB_val key = as_val(k);
      int rc = mdb_del(txn, dbi_, &key, nullptr);
      if (rc == MDB_NOTFOUND) return std::unexpected("no such shard: " + std::string(id));
      if (rc != 0) return std::unexpected(lmdb_error("mdb_del", rc));
      return {};
    });
  }

 private:
  enum class txn_kind { users, shards, aliases };
  LmdbDirectory() = default;

  using Body = std::function<std::expected<void, std::string>(MDB_txn*)>;

  std::expected<void, std::string> read(const Body& body) const {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0)
      return std::unexpected(lmdb_error("mdb_txn_begin", rc));
    auto result = body(txn);
    mdb_txn_abort(txn);
    return result;
  }

  std::expected<void, std::string> write(const Body& body) const {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0)
      return std::unexpected(lmdb_error("mdb_txn_begin", rc));
    auto result = body(txn);
    if (!result) {
      mdb_txn_abort(txn);
      return result;
    }
    if (int rc = mdb_txn_commit(txn); rc != 0) return std::unexpected(lmdb_error("mdb_txn_commit", rc));
    return {};
  }

  std::expected<std::optional<std::string>, std::string> get(MDB_txn* txn, std::string_view k) const {
    MDB_val key = as_val(k), value{};
    int rc = mdb_get(txn, dbi_, &key, &value);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
    if (rc != 0) return std::unexpected(lmdb_error("mdb_get", rc));
    return std::optional<std::string>(std::string(as_view(value)));
  }

  // Reads the user's record, lets `change` edit it (false: leave it), writes it back.
  std::expected<void, std::string> update(std::string_view name,
                                          const std::function<std::expected<bool, std::string>(User&)>& change) {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::unexpected(canonical.error());
    return write([&](MDB_txn* txn) -> std::expected<void, std::string> {
      auto text = get(txn, *canonical);
      if (!text) return std::unexpected(text.error());
      std::optional<User> u = *text ? deserialize(*canonical, **text) : std::nullopt;
      if (!u) return std::unexpected("no such user: " + *canonical);
      auto changed = change(*u);
      if (!changed) return std::unexpected(changed.error());
      if (!*changed) return {};
      u->credentials.name = *canonical;
      std::string written = serialize(*u);
      MDB_val key = as_val(*canonical), value = as_val(written);
      if (int rc = mdb_put(txn, dbi_, &key, &value, 0); rc != 0) return std::unexpected(lmdb_error("mdb_put", rc));
      return {};
    });
  }

  // Every user (keys that start with a letter or digit) or every shard.
  std::expected<void, std::string> each(txn_kind kind,
                                        const std::function<void(std::string_view, std::string_view)>& visit) const {
    return read([&](MDB_txn* txn) -> std::expected<void, std::string> {
      MDB_cursor* cursor = nullptr;
      if (int rc = mdb_cursor_open(txn, dbi_, &cursor); rc != 0)
        return std::unexpected(lmdb_error("mdb_cursor_open", rc));
      MDB_val key{}, value{};
      for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        std::string_view k = as_view(key);
        const bool is_shard = k.starts_with(kShardPrefix), is_alias = k.starts_with(kAliasPrefix);
        const bool is_user = !k.empty() && static_cast<unsigned char>(k[0]) > 0x20;
        if ((kind == txn_kind::shards && is_shard) || (kind == txn_kind::users && is_user) ||
            (kind == txn_kind::aliases && is_alias))
          visit(k, as_view(value));
      }
      mdb_cursor_close(cursor);
      return {};
    });
  }

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::string decoy_key_;
};

}  // namespace

std::expected<std::unique_ptr<Directory>, std::string> open_lmdb(const std::filesystem::path& dir, bool create) {
  auto opened = LmdbDirectory::open(dir, create);
  if (!opened) return std::unexpected(opened.error());
  return std::unique_ptr<Directory>(std::move(*opened));
}

}  // namespace roost::directory

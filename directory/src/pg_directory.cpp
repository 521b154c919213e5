// The PostgreSQL engine (libpq): the schema of docs/directory.md, a small
// pool of connections with prepared statements, and a listening connection
// for the notifications the schema's triggers send on every change.
//
// Every call blocks on the database (services call the directory on their
// blocking pool). A connection that broke is reset and the statement tried
// once more; if the database stays away, the error says so and the caller
// answers with a temporary failure.
#include <libpq-fe.h>
#include <openssl/rand.h>
#include <poll.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "roost/core/log.hpp"
#include "roost/directory/directory.hpp"

namespace roost::directory {
namespace {

constexpr const char* kChannel = "roost_directory";

// The schema: idempotent, so `roostctl directory init` may run again.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS roost_shard (
  id     text PRIMARY KEY CHECK (id ~ '^[a-z0-9._-]{1,64}$'),
  imap   text NOT NULL DEFAULT '',
  pop3   text NOT NULL DEFAULT '',
  lmtp   text NOT NULL DEFAULT '',
  state  text NOT NULL DEFAULT 'up' CHECK (state IN ('up', 'draining', 'down')),
  weight integer NOT NULL DEFAULT 100 CHECK (weight >= 0)
);
CREATE TABLE IF NOT EXISTS roost_user (
  name           text PRIMARY KEY,
  password_hash  text NOT NULL,
  scram_sha1     text NOT NULL DEFAULT '',
  scram_sha256   text NOT NULL DEFAULT '',
  shard          text REFERENCES roost_shard (id),
  state          text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'moving', 'disabled')),
  generation     bigint NOT NULL DEFAULT 1,
  delay_until    bigint NOT NULL DEFAULT 0,
  quota_bytes    bigint,
  quota_messages bigint
);
CREATE INDEX IF NOT EXISTS roost_user_by_shard ON roost_user (shard);
CREATE TABLE IF NOT EXISTS roost_alias (
  alias text PRIMARY KEY,
  name  text NOT NULL REFERENCES roost_user (name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS roost_alias_by_name ON roost_alias (name);
CREATE TABLE IF NOT EXISTS roost_meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
-- One notification per changed row: "user NAME" (an alias notifies under
-- its own name) or "shard ID".
CREATE OR REPLACE FUNCTION roost_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('roost_directory', TG_ARGV[0] || ' ' || (to_jsonb(COALESCE(NEW, OLD)) ->> TG_ARGV[1]));
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS roost_user_changed ON roost_user;
CREATE TRIGGER roost_user_changed AFTER INSERT OR UPDATE OR DELETE ON roost_user
  FOR EACH ROW EXECUTE FUNCTION roost_notify('user', 'name');
DROP TRIGGER IF EXISTS roost_alias_changed ON roost_alias;
CREATE TRIGGER roost_alias_changed AFTER INSERT OR UPDATE OR DELETE ON roost_alias
  FOR EACH ROW EXECUTE FUNCTION roost_notify('user', 'alias');
DROP TRIGGER IF EXISTS roost_shard_changed ON roost_shard;
CREATE TRIGGER roost_shard_changed AFTER INSERT OR UPDATE OR DELETE ON roost_shard
  FOR EACH ROW EXECUTE FUNCTION roost_notify('shard', 'id');
)sql";

constexpr const char* kUserColumns =
    "name, password_hash, scram_sha1, scram_sha256, coalesce(shard, ''), state, generation, delay_until, "
    "quota_bytes, quota_messages";

struct Statement {
  const char* name;
  std::string sql;
  int params;
};

const std::vector<Statement>& statements() {
  static const std::vector<Statement> all = {
      {"user_get", std::string("SELECT ") + kUserColumns + " FROM roost_user WHERE name = $1", 1},
      {"user_add",
       "INSERT INTO roost_user (name, password_hash, scram_sha1, scram_sha256, shard, state, generation, "
       "delay_until, quota_bytes, quota_messages) SELECT $1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10 "
       "WHERE NOT EXISTS (SELECT 1 FROM roost_alias WHERE alias = $1) ON CONFLICT (name) DO NOTHING",
       10},
      {"alias_get", "SELECT name FROM roost_alias WHERE alias = $1", 1},
      {"alias_add",
       "INSERT INTO roost_alias (alias, name) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM roost_user WHERE name = $2) "
       "AND NOT EXISTS (SELECT 1 FROM roost_user WHERE name = $1) ON CONFLICT (alias) DO NOTHING",
       2},
      {"alias_remove", "DELETE FROM roost_alias WHERE alias = $1", 1},
      {"aliases_of", "SELECT alias FROM roost_alias WHERE name = $1 ORDER BY alias", 1},
      {"user_credentials",
       "UPDATE roost_user SET password_hash = $2, scram_sha1 = $3, scram_sha256 = $4 WHERE name = $1", 4},
      {"user_remove", "DELETE FROM roost_user WHERE name = $1", 1},
      {"users_all", "SELECT name FROM roost_user ORDER BY name", 0},
      {"users_of_shard", "SELECT name FROM roost_user WHERE coalesce(shard, '') = $1 ORDER BY name", 1},
      {"users_per_shard", "SELECT coalesce(shard, ''), count(*) FROM roost_user GROUP BY 1", 0},
      {"route_cas",
       "UPDATE roost_user SET shard = nullif($2, ''), state = $3, delay_until = $4, generation = generation + 1 "
       "WHERE name = $1 AND generation = $5",
       5},
      {"shards", "SELECT id, imap, pop3, lmtp, state, weight FROM roost_shard ORDER BY id", 0},
      {"shard_put",
       "INSERT INTO roost_shard (id, imap, pop3, lmtp, state, weight) VALUES ($1, $2, $3, $4, $5, $6) "
       "ON CONFLICT (id) DO UPDATE SET imap = $2, pop3 = $3, lmtp = $4, state = $5, weight = $6",
       6},
      {"shard_users", "SELECT count(*) FROM roost_user WHERE shard = $1", 1},
      {"shard_remove", "DELETE FROM roost_shard WHERE id = $1", 1},
      {"decoy_put", "INSERT INTO roost_meta (key, value) VALUES ('decoy-key', $1) ON CONFLICT (key) DO NOTHING", 1},
      {"decoy_get", "SELECT value FROM roost_meta WHERE key = 'decoy-key'", 0},
  };
  return all;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string hex_of(const std::string& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::int64_t number(const char* text) {
  std::int64_t value = 0;
  std::from_chars(text, text + std::strlen(text), value);
  return value;
}

// A connection's error without the connection string (which may hold a
// password): libpq's message names host and port, never the password.
std::string error_of(PGconn* conn, std::string_view what) {
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return "PostgreSQL " + std::string(what) + ": " + message;
}

class PgDirectory final : public Directory {
 public:
  PgDirectory(std::string conninfo, unsigned pool_size) : conninfo_(std::move(conninfo)), pool_size_(pool_size) {}

  ~PgDirectory() override {
    stop_ = true;
    if (listener_.joinable()) listener_.join();
    for (auto* c : all_) {
      if (c->conn != nullptr) PQfinish(c->conn);
      delete c;
    }
  }

  std::expected<void, std::string> start() {
    // The decoy key: made once, by whoever comes first.
    std::string fresh(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), 32) != 1)
      return std::unexpected("no random bytes available");
    std::string hex = hex_of(fresh);
    // The database away at start: run anyway (logins are temporary errors
    // until it is back, and the pool reconnects by itself), with a key of
    // this process's own for the decoys meanwhile. Anything else (no
    // schema) is an error to fix before starting.
    if (auto c = borrow(); !c) {
      log::warning({.service = "directory"}, "directory_unreachable", {{"error", c.error()}});
      decoy_key_ = hex;
      return {};
    } else {
      give_back(*c);
    }
    auto put = run("decoy_put", {hex});
    if (!put) return std::unexpected(put.error());
    auto got = run("decoy_get", {});
    if (!got) return std::unexpected(got.error());
    if (PQntuples(got->get()) != 1) return std::unexpected("PostgreSQL: the decoy key is missing");
    decoy_key_ = PQgetvalue(got->get(), 0, 0);
    return {};
  }

  const std::string& decoy_key() const override { return decoy_key_; }

  std::expected<std::optional<User>, std::string> user(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::optional<User>{};
    auto r = run("user_get", {*canonical});
    if (!r) return std::unexpected(r.error());
    PGresult* res = r->get();
    if (PQntuples(res) == 0) return std::optional<User>{};
    User u;
    u.credentials.name = PQgetvalue(res, 0, 0);
    u.credentials.password_hash = PQgetvalue(res, 0, 1);
    u.credentials.scram_sha1 = PQgetvalue(res, 0, 2);
    u.credentials.scram_sha256 = PQgetvalue(res, 0, 3);
    u.route.shard = PQgetvalue(res, 0, 4);
    u.route.state = user_state(PQgetvalue(res, 0, 5)).value_or(UserState::active);
    u.route.generation = static_cast<std::uint64_t>(number(PQgetvalue(res, 0, 6)));
    u.route.delay_until = number(PQgetvalue(res, 0, 7));
    if (!PQgetisnull(res, 0, 8) || !PQgetisnull(res, 0, 9))
      u.quota = QuotaLimits{static_cast<std::uint64_t>(number(PQgetvalue(res, 0, 8))),
                            static_cast<std::uint64_t>(number(PQgetvalue(res, 0, 9)))};
    return std::optional<User>(std::move(u));
  }

  std::expected<void, std::string> add(const User& u) override {
    auto canonical = canonical_user_name(u.credentials.name);
    if (!canonical) return std::unexpected(canonical.error());
    const Route& r = u.route;
    std::optional<std::string> bytes, messages;
    if (u.quota) {
      bytes = std::to_string(u.quota->bytes);
      messages = std::to_string(u.quota->messages);
    }
    auto done = run("user_add", {*canonical, u.credentials.password_hash, u.credentials.scram_sha1,
                                 u.credentials.scram_sha256, r.shard, std::string(to_string(r.state)),
                                 std::to_string(r.generation), std::to_string(r.delay_until), bytes, messages});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) != "0") return {};
    auto alias = alias_target(*canonical);
    if (alias && *alias) return std::unexpected(*canonical + " is an alias of " + **alias);
    return std::unexpected("user already exists: " + *canonical);
  }

  std::expected<void, std::string> replace_credentials(const UserRecord& c) override {
    auto canonical = canonical_user_name(c.name);
    if (!canonical) return std::unexpected(canonical.error());
    auto done = run("user_credentials", {*canonical, c.password_hash, c.scram_sha1, c.scram_sha256});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "0") return std::unexpected("no such user: " + *canonical);
    return {};
  }

  std::expected<void, std::string> remove(std::string_view name) override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::unexpected(canonical.error());
    auto done = run("user_remove", {*canonical});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "0") return std::unexpected("no such user: " + *canonical);
    return {};
  }

  std::expected<std::vector<std::string>, std::string> users(std::optional<std::string_view> shard) const override {
    auto r = shard ? run("users_of_shard", {std::string(*shard)}) : run("users_all", {});
    if (!r) return std::unexpected(r.error());
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.emplace_back(PQgetvalue(r->get(), i, 0));
    return out;
  }

  std::expected<std::map<std::string, std::size_t>, std::string> users_per_shard() const override {
    auto r = run("users_per_shard", {});
    if (!r) return std::unexpected(r.error());
    std::map<std::string, std::size_t> out;
    for (int i = 0; i < PQntuples(r->get()); ++i)
      out[PQgetvalue(r->get(), i, 0)] = static_cast<std::size_t>(number(PQgetvalue(r->get(), i, 1)));
    return out;
  }

  std::expected<bool, std::string> set_route(std::string_view name, std::uint64_t expected_generation,
                                             Route route) override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::unexpected(canonical.error());
    if (!route.shard.empty()) {
      if (auto valid = check_shard_id(route.shard); !valid) return std::unexpected(valid.error());
    }
    auto done = run("route_cas", {*canonical, route.shard, std::string(to_string(route.state)),
                                  std::to_string(route.delay_until), std::to_string(expected_generation)});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "1") return true;
    auto exists = user(*canonical);
    if (!exists) return std::unexpected(exists.error());
    if (!*exists) return std::unexpected("no such user: " + *canonical);
    return false;
  }

  std::expected<std::optional<std::string>, std::string> alias_target(std::string_view alias) const override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::optional<std::string>{};
    auto r = run("alias_get", {*canonical});
    if (!r) return std::unexpected(r.error());
    if (PQntuples(r->get()) == 0) return std::optional<std::string>{};
    return std::optional<std::string>(PQgetvalue(r->get(), 0, 0));
  }

  std::expected<void, std::string> add_alias(std::string_view alias, std::string_view name) override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::unexpected(canonical.error());
    auto target = canonical_user_name(name);
    if (!target) return std::unexpected(target.error());
    auto done = run("alias_add", {*canonical, *target});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "1") return {};
    auto user = this->user(*target);
    if (!user) return std::unexpected(user.error());
    if (!*user) return std::unexpected("no such user: " + *target);
    auto taken = this->user(*canonical);
    if (taken && *taken) return std::unexpected(*canonical + " is a user");
    return std::unexpected("alias already exists: " + *canonical);
  }

  std::expected<void, std::string> remove_alias(std::string_view alias) override {
    auto canonical = canonical_user_name(alias);
    if (!canonical) return std::unexpected(canonical.error());
    auto done = run("alias_remove", {*canonical});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "0") return std::unexpected("no such alias: " + *canonical);
    return {};
  }

  std::expected<std::vector<std::string>, std::string> aliases(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::vector<std::string>{};
    auto r = run("aliases_of", {*canonical});
    if (!r) return std::unexpected(r.error());
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) out.emplace_back(PQgetvalue(r->get(), i, 0));
    return out;
  }

  std::expected<std::vector<Shard>, std::string> shards() const override {
    auto r = run("shards", {});
    if (!r) return std::unexpected(r.error());
    std::vector<Shard> out;
    PGresult* res = r->get();
    for (int i = 0; i < PQntuples(res); ++i) {
      Shard s;
      s.id = PQgetvalue(res, i, 0);
      s.imap = PQgetvalue(res, i, 1);
      s.pop3 = PQgetvalue(res, i, 2);
      s.lmtp = PQgetvalue(res, i, 3);
      s.state = shard_state(PQgetvalue(res, i, 4)).value_or(ShardState::up);
      s.weight = static_cast<unsigned>(number(PQgetvalue(res, i, 5)));
      out.push_back(std::move(s));
    }
    return out;
  }

  std::expected<void, std::string> put_shard(const Shard& s) override {
    if (auto valid = check_shard_id(s.id); !valid) return std::unexpected(valid.error());
    auto done = run("shard_put", {s.id, s.imap, s.pop3, s.lmtp, std::string(to_string(s.state)),
                                  std::to_string(s.weight)});
    if (!done) return std::unexpected(done.error());
    return {};
  }

  std::expected<void, std::string> remove_shard(std::string_view id) override {
    auto count = run("shard_users", {std::string(id)});
    if (!count) return std::unexpected(count.error());
    if (auto n = number(PQgetvalue(count->get(), 0, 0)); n > 0)
      return std::unexpected("shard " + std::string(id) + " still holds " + std::to_string(n) +
                             " users (move them first)");
    auto done = run("shard_remove", {std::string(id)});
    if (!done) return std::unexpected(done.error());
    if (std::string_view(PQcmdTuples(done->get())) == "0") return std::unexpected("no such shard: " + std::string(id));
    return {};
  }

  std::expected<void, std::string> watch(std::function<void(const Change&)> on_change) override {
    std::lock_guard lock(watch_mutex_);
    if (listener_.joinable()) return std::unexpected("the directory is watched already");
    on_change_ = std::move(on_change);
    listener_ = std::thread([this] { listen(); });
    return {};
  }

 private:
  struct Conn {
    PGconn* conn = nullptr;
    bool prepared = false;
  };

  // A pooled connection, connected and with every statement prepared.
  std::expected<Conn*, std::string> borrow() const {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || all_.size() < pool_size_; });
    Conn* c = nullptr;
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
    } else {
      c = new Conn();
      all_.push_back(c);
    }
    lock.unlock();
    if (c->conn == nullptr) c->conn = PQconnectdb(conninfo_.c_str());
    if (PQstatus(c->conn) != CONNECTION_OK) {
      PQreset(c->conn);
      c->prepared = false;
    }
    if (PQstatus(c->conn) != CONNECTION_OK) {
      std::string error = error_of(c->conn, "connection");
      give_back(c);
      return std::unexpected(error);
    }
    if (!c->prepared) {
      for (const auto& s : statements()) {
        Result r(PQprepare(c->conn, s.name, s.sql.c_str(), s.params, nullptr));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
          std::string error = error_of(c->conn, std::string("prepare ") + s.name);
          give_back(c);
          return std::unexpected(error);
        }
      }
      c->prepared = true;
    }
    return c;
  }

  void give_back(Conn* c) const {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(c);
    }
    available_.notify_one();
  }

  // Runs a prepared statement; once more on a fresh connection if the
  // connection broke under it.
  std::expected<Result, std::string> run(const char* statement,
                                         const std::vector<std::optional<std::string>>& params) const {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    std::string error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto c = borrow();
      if (!c) return std::unexpected(c.error());
      Result r(PQexecPrepared((*c)->conn, statement, static_cast<int>(values.size()), values.data(), nullptr,
                              nullptr, 0));
      const auto status = PQresultStatus(r.get());
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        give_back(*c);
        return r;
      }
      error = error_of((*c)->conn, statement);
      const bool broken = PQstatus((*c)->conn) != CONNECTION_OK;
      if (broken) (*c)->prepared = false;
      give_back(*c);
      if (!broken) break;
    }
    return std::unexpected(error);
  }

  std::expected<Result, std::string> run(const char* statement, std::initializer_list<std::string> params) const {
    std::vector<std::optional<std::string>> values(params.begin(), params.end());
    return run(statement, values);
  }

  // The notification listener: its own connection, LISTENing; reconnects
  // by itself (a notification missed meanwhile is reported as a reset, so
  // caches drop everything).
  void listen() {
    PGconn* conn = nullptr;
    bool connected = false;
    while (!stop_) {
      if (!connected) {
        if (conn != nullptr) PQfinish(conn);
        conn = PQconnectdb(conninfo_.c_str());
        Result r(PQstatus(conn) == CONNECTION_OK ? PQexec(conn, (std::string("LISTEN ") + kChannel).c_str()) : nullptr);
        connected = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
        if (!connected) {
          for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        deliver(Change{Change::Kind::reset, {}});
      }
      pollfd p{PQsocket(conn), POLLIN, 0};
      if (::poll(&p, 1, 100) < 0 || (p.revents & (POLLIN | POLLERR | POLLHUP)) == 0) continue;
      if (PQconsumeInput(conn) == 0) {
        connected = false;
        continue;
      }
      while (PGnotify* n = PQnotifies(conn)) {
        std::string_view payload = n->extra;
        Change change;
        auto space = payload.find(' ');
        change.kind = payload.substr(0, space) == "shard" ? Change::Kind::shard : Change::Kind::user;
        change.key = space == std::string_view::npos ? std::string() : std::string(payload.substr(space + 1));
        PQfreemem(n);
        deliver(change);
      }
    }
    if (conn != nullptr) PQfinish(conn);
  }

  void deliver(const Change& change) {
    std::function<void(const Change&)> callback;
    {
      std::lock_guard lock(watch_mutex_);
      callback = on_change_;
    }
    if (callback) callback(change);
  }

  const std::string conninfo_;
  const unsigned pool_size_;
  mutable std::mutex mutex_;
  mutable std::condition_variable available_;
  mutable std::vector<Conn*> idle_, all_;
  std::string decoy_key_;

  std::mutex watch_mutex_;
  std::function<void(const Change&)> on_change_;
  std::thread listener_;
  std::atomic<bool> stop_{false};
};

}  // namespace

std::expected<std::unique_ptr<Directory>, std::string> open_postgresql(const std::string& conninfo,
                                                                       unsigned pool_size) {
  auto d = std::make_unique<PgDirectory>(conninfo, pool_size);
  if (auto started = d->start(); !started) return std::unexpected(started.error());
  return std::unique_ptr<Directory>(std::move(d));
}

std::expected<void, std::string> init_postgresql(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::expected<void, std::string> out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = std::unexpected(error_of(conn, "connection"));
  } else {
    Result r(PQexec(conn, kSchema));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) out = std::unexpected(error_of(conn, "schema"));
  }
  PQfinish(conn);
  return out;
}

}  // namespace roost::directory

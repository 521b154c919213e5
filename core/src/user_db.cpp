#include "roost/core/user_db.hpp"

#include <crypt.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "roost/core/ascii.hpp"
#include "roost/core/base64.hpp"

namespace roost {
namespace {

// "\x01" stands alone: a hex escape would swallow the "dec" that follows.
constexpr std::string_view decoy_key_name = "\x01" "decoy-key";
constexpr std::string_view record_version = "v1";

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return {};
  }
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string lmdb_error(std::string_view what, int rc) {
  return std::string(what) + ": " + mdb_strerror(rc);
}

std::string serialize(const UserRecord& r) {
  return std::string(record_version) + "\nhash=" + r.password_hash +
         "\nscram-sha-1=" + r.scram_sha1 + "\nscram-sha-256=" + r.scram_sha256 + "\n";
}

std::optional<UserRecord> deserialize(std::string_view name, std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  if (!std::getline(in, line) || line != record_version) return std::nullopt;
  UserRecord r;
  r.name = std::string(name);
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    auto key = line.substr(0, eq);
    auto value = line.substr(eq + 1);
    if (key == "hash") r.password_hash = value;
    else if (key == "scram-sha-1") r.scram_sha1 = value;
    else if (key == "scram-sha-256") r.scram_sha256 = value;
  }
  if (r.password_hash.empty()) return std::nullopt;
  return r;
}

}  // namespace

std::expected<std::string, std::string> canonical_user_name(std::string_view name) {
  if (name.empty()) return std::unexpected("user name is empty");
  if (name.size() > 255) return std::unexpected("user name is longer than 255 bytes");
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
    if (!ok) {
      return std::unexpected("user name may hold only letters, digits and . _ - + @");
    }
    out.push_back(ascii_lower(c));
  }
  if (out.front() == '.' || out.find("..") != std::string::npos) {
    return std::unexpected("user name must not start with '.' or contain '..'");
  }
  return out;
}

std::string scram_secret(std::string_view mechanism, std::string_view password,
                         std::string_view salt, unsigned iterations) {
  const EVP_MD* md = mechanism == "SCRAM-SHA-1" ? EVP_sha1() : EVP_sha256();
  int size = EVP_MD_get_size(md);
  std::string salted(static_cast<std::size_t>(size), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), md, size,
                    reinterpret_cast<unsigned char*>(salted.data()));
  std::string client_key = hmac(md, salted, "Client Key");
  std::string stored_key(static_cast<std::size_t>(size), '\0');
  unsigned len = 0;
  EVP_Digest(client_key.data(), client_key.size(),
             reinterpret_cast<unsigned char*>(stored_key.data()), &len, md, nullptr);
  std::string server_key = hmac(md, salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return std::string(mechanism) + "$" + std::to_string(iterations) + ":" + base64_encode(salt) + "$" +
         base64_encode(stored_key) + ":" + base64_encode(server_key);
}

std::expected<UserRecord, std::string> make_user_record(std::string_view name, std::string_view password,
                                                        const ScramSettings& scram) {
  auto canonical = canonical_user_name(name);
  if (!canonical) return std::unexpected(canonical.error());
  if (password.empty()) return std::unexpected("password is empty");
  if (password.find('\0') != std::string_view::npos) {
    return std::unexpected("password contains a NUL byte");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) == nullptr) {
    return std::unexpected("cannot make a yescrypt salt");
  }
  crypt_data data{};
  std::string pw(password);
  const char* hashed = crypt_r(pw.c_str(), setting, &data);
  OPENSSL_cleanse(pw.data(), pw.size());
  if (hashed == nullptr || hashed[0] == '*') return std::unexpected("yescrypt hashing failed");

  UserRecord r;
  r.name = *canonical;
  r.password_hash = hashed;
  OPENSSL_cleanse(data.input, sizeof data.input);
  std::string salt1 = random_bytes(16);
  std::string salt256 = random_bytes(16);
  if (salt1.empty() || salt256.empty()) return std::unexpected("no random bytes available");
  if (scram.sha1) r.scram_sha1 = scram_secret("SCRAM-SHA-1", password, salt1, scram.iterations);
  r.scram_sha256 = scram_secret("SCRAM-SHA-256", password, salt256, scram.iterations);
  return r;
}

bool verify_password_hash(std::string_view password, const std::string& hash) {
  crypt_data data{};
  std::string pw(password);
  const char* computed = crypt_r(pw.c_str(), hash.c_str(), &data);
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = computed != nullptr && computed[0] != '*' && std::strlen(computed) == hash.size() &&
            CRYPTO_memcmp(computed, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.input, sizeof data.input);
  return ok;
}

struct UserDb::Env {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  ~Env() {
    if (env != nullptr) mdb_env_close(env);
  }
};

UserDb::UserDb(std::unique_ptr<Env> env) : env_(std::move(env)) {}
UserDb::~UserDb() = default;

std::expected<std::unique_ptr<UserDb>, std::string> UserDb::open(
    const std::filesystem::path& dir, bool create) {
  std::error_code ec;
  if (create) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return std::unexpected("cannot create " + dir.string() + ": " + ec.message());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  } else if (!std::filesystem::is_directory(dir, ec)) {
    return std::unexpected("no user database at " + dir.string() +
                           " (create it with roostctl init or roostctl user add)");
  }
  auto env = std::make_unique<Env>();
  int rc = mdb_env_create(&env->env);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_env_create", rc));
  mdb_env_set_maxreaders(env->env, 126);
  mdb_env_set_mapsize(env->env, std::size_t{1} << 30);
  rc = mdb_env_open(env->env, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) return std::unexpected(lmdb_error("cannot open " + dir.string(), rc));
  int dead = 0;
  mdb_reader_check(env->env, &dead);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env->env, nullptr, 0, &txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_begin", rc));
  rc = mdb_dbi_open(txn, nullptr, 0, &env->dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return std::unexpected(lmdb_error("mdb_dbi_open", rc));
  }
  std::string decoy;
  MDB_val key{decoy_key_name.size(), const_cast<char*>(decoy_key_name.data())};
  MDB_val value{};
  rc = mdb_get(txn, env->dbi, &key, &value);
  if (rc == 0) {
    decoy.assign(static_cast<char*>(value.mv_data), value.mv_size);
    mdb_txn_abort(txn);
  } else if (rc == MDB_NOTFOUND) {
    decoy = random_bytes(32);
    value = {decoy.size(), decoy.data()};
    rc = mdb_put(txn, env->dbi, &key, &value, MDB_NOOVERWRITE);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    if (rc != 0) return std::unexpected(lmdb_error("cannot initialise the user database", rc));
  } else {
    mdb_txn_abort(txn);
    return std::unexpected(lmdb_error("mdb_get", rc));
  }
  auto db = std::unique_ptr<UserDb>(new UserDb(std::move(env)));
  db->decoy_key_ = std::move(decoy);
  return db;
}

namespace {
std::expected<void, std::string> write_record(MDB_env* env, MDB_dbi dbi, const UserRecord& r,
                                              unsigned flags, bool must_exist) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_begin", rc));
  MDB_val key{r.name.size(), const_cast<char*>(r.name.data())};
  if (must_exist) {
    MDB_val existing{};
    rc = mdb_get(txn, dbi, &key, &existing);
    if (rc == MDB_NOTFOUND) {
      mdb_txn_abort(txn);
      return std::unexpected("no such user: " + r.name);
    }
  }
  std::string text = serialize(r);
  MDB_val value{text.size(), text.data()};
  rc = mdb_put(txn, dbi, &key, &value, flags);
  if (rc == MDB_KEYEXIST) {
    mdb_txn_abort(txn);
    return std::unexpected("user already exists: " + r.name);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return std::unexpected(lmdb_error("mdb_put", rc));
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_commit", rc));
  return {};
}
}  // namespace

std::expected<void, std::string> UserDb::add(const UserRecord& record) {
  return write_record(env_->env, env_->dbi, record, MDB_NOOVERWRITE, false);
}

std::expected<void, std::string> UserDb::replace(const UserRecord& record) {
  return write_record(env_->env, env_->dbi, record, 0, true);
}

std::expected<void, std::string> UserDb::remove(std::string_view name) {
  auto canonical = canonical_user_name(name);
  if (!canonical) return std::unexpected(canonical.error());
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_->env, nullptr, 0, &txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_begin", rc));
  MDB_val key{canonical->size(), canonical->data()};
  rc = mdb_del(txn, env_->dbi, &key, nullptr);
  if (rc == MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return std::unexpected("no such user: " + *canonical);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return std::unexpected(lmdb_error("mdb_del", rc));
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_commit", rc));
  return {};
}

std::expected<std::vector<std::string>, std::string> UserDb::list() const {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_begin", rc));
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn, env_->dbi, &cursor);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return std::unexpected(lmdb_error("mdb_cursor_open", rc));
  }
  std::vector<std::string> names;
  MDB_val key{}, value{};
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    std::string_view name(static_cast<char*>(key.mv_data), key.mv_size);
    if (name == decoy_key_name) continue;
    names.emplace_back(name);
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  return names;
}

std::expected<std::optional<UserRecord>, std::string> UserDb::find(std::string_view name) const {
  auto canonical = canonical_user_name(name);
  if (!canonical) return std::optional<UserRecord>{};
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return std::unexpected(lmdb_error("mdb_txn_begin", rc));
  MDB_val key{canonical->size(), canonical->data()};
  MDB_val value{};
  rc = mdb_get(txn, env_->dbi, &key, &value);
  std::optional<UserRecord> out;
  if (rc == 0) {
    out = deserialize(*canonical,
                      std::string_view(static_cast<char*>(value.mv_data), value.mv_size));
  }
  mdb_txn_abort(txn);
  if (rc != 0 && rc != MDB_NOTFOUND) return std::unexpected(lmdb_error("mdb_get", rc));
  return out;
}

}  // namespace roost

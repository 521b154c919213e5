// The embedded user database: an LMDB environment in the instance's data
// directory. It never holds a password in clear or in a reversible form:
//   - a yescrypt hash (libxcrypt) verifies PLAIN, LOGIN and USER/PASS;
//   - RFC 5802 / RFC 7677 StoredKey and ServerKey verify SCRAM-SHA-1 and
//     SCRAM-SHA-256 without the password.
// Debian's sasldb would keep the password in clear; that is why this exists.
//
// Thread-safe. Open each database once per process (LMDB forbids opening an
// environment twice in one process; LIBRARY-FACTS §1). roostd and roostctl
// may use it at the same time from separate processes.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roost {

struct UserRecord {
  std::string name;           // canonical form (lowercase)
  std::string password_hash;  // crypt(3) string, "$y$..."
  // Cyrus SASL authPassword values: "SCRAM-SHA-256$ITER:SALT$STOREDKEY:SERVERKEY"
  std::string scram_sha1;
  std::string scram_sha256;
};

// Lowercases and validates a user name: 1-255 bytes of letters, digits and
// . _ - + @. Returns an error text for anything else.
std::expected<std::string, std::string> canonical_user_name(std::string_view name);

// Which SCRAM verifiers a new password gets, and their PBKDF2 iterations.
struct ScramSettings {
  bool sha1 = false;  // SCRAM-SHA-1's too (cheap to attack: only when the mechanism is offered)
  unsigned iterations = 10000;
};

// Builds the record for a password: a fresh yescrypt hash and fresh SCRAM
// secrets with random salts.
std::expected<UserRecord, std::string> make_user_record(std::string_view name, std::string_view password,
                                                        const ScramSettings& scram = {});

// True if `password` matches the crypt(3) hash; constant-time comparison.
bool verify_password_hash(std::string_view password, const std::string& hash);

// SCRAM secret in Cyrus SASL's authPassword syntax, computed from a password.
std::string scram_secret(std::string_view mechanism, std::string_view password,
                         std::string_view salt, unsigned iterations);

class UserDb {
 public:
  // Opens (and with create, makes) the database folder.
  static std::expected<std::unique_ptr<UserDb>, std::string> open(const std::filesystem::path& dir,
                                                                  bool create);
  ~UserDb();

  std::expected<void, std::string> add(const UserRecord& record);
  // Replaces the secrets of an existing user.
  std::expected<void, std::string> replace(const UserRecord& record);
  std::expected<void, std::string> remove(std::string_view name);
  std::expected<std::vector<std::string>, std::string> list() const;
  // Absent if there is no such user; an error if the database failed.
  std::expected<std::optional<UserRecord>, std::string> find(std::string_view name) const;

  // A random key made with the database, used to derive convincing SCRAM
  // parameters for unknown users, so that an exchange for a user who does not
  // exist looks and fails exactly like one with a wrong password.
  const std::string& decoy_key() const { return decoy_key_; }

 private:
  struct Env;
  explicit UserDb(std::unique_ptr<Env> env);
  std::unique_ptr<Env> env_;
  std::string decoy_key_;
};

}  // namespace roost

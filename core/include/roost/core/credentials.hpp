// Credentials as Roost stores them, never a password in clear or in a
// reversible form:
//   - a yescrypt hash (libxcrypt) verifies PLAIN, LOGIN and USER/PASS;
//   - RFC 5802 / RFC 7677 StoredKey and ServerKey verify SCRAM-SHA-1 and
//     SCRAM-SHA-256 without the password.
// Debian's sasldb would keep the password in clear; that is why this exists.
// Where they are kept is the directory's business (directory/): core's
// authentication asks a CredentialSource.
#pragma once

#include <expected>
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

// Where authentication finds a user's credentials: the directory
// (directory/), whichever engine holds it. Thread-safe; find() may block
// (a database look-up), so it runs on the blocking pool.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Absent if there is no such user; an error if the look-up failed.
  virtual std::expected<std::optional<UserRecord>, std::string> find(std::string_view name) const = 0;
  // The same, asked of the store itself past any cache: after a password
  // did not match credentials that may have changed meanwhile.
  virtual std::expected<std::optional<UserRecord>, std::string> find_fresh(std::string_view name) const {
    return find(name);
  }
  // A random key made with the store, used to derive convincing SCRAM
  // parameters for unknown users, so that an exchange for a user who does
  // not exist looks and fails exactly like one with a wrong password.
  virtual const std::string& decoy_key() const = 0;
  // Whether this node serves the (authenticated) user now: an error text
  // for the log when not (the user's mail is on another shard, or being
  // moved), which the client sees as a temporary failure.
  virtual std::expected<void, std::string> admit(std::string_view user) const = 0;
};


}  // namespace roost

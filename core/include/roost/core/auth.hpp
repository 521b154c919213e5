// Authentication: Cyrus SASL drives the mechanisms (PLAIN, LOGIN,
// SCRAM-SHA-256, SCRAM-SHA-1 and their -PLUS variants with tls-exporter
// channel binding) against Roost's own user database, wired in through the
// checkpass callback (PLAIN, LOGIN) and an in-process auxprop plugin (SCRAM
// stored keys). Failed attempts are slowed per address and per user, and a
// user who does not exist is answered exactly like a wrong password.
//
// Every call into libsasl may block or burn milliseconds of CPU (SCRAM), so
// callers run SaslExchange steps on the runtime's auth pool, never on an io
// thread. One exchange is used by one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/base64.hpp"
#include "roost/core/config.hpp"
#include "roost/core/net_address.hpp"
#include "roost/core/credentials.hpp"

typedef struct sasl_conn sasl_conn_t;

namespace roost {

struct SaslStep {
  enum class Kind {
    challenge,  // send `data` to the client and feed its answer to step()
    success,    // authenticated as `user`; `data` is optional final server data
    failure,    // wrong credentials or unknown user (never said which)
    protocol,   // malformed client data: the client's fault, not a login failure
    error,      // internal failure (logged); the client sees a temporary error
  };
  Kind kind = Kind::failure;
  std::string data;    // raw bytes, not base64
  std::string user;    // canonical authenticated user on success
  std::string detail;  // for the log only: never shown to the client
};

struct SaslSecurity {
  bool tls = false;
  unsigned tls_bits = 0;
  bool plaintext_allowed = false;  // cleartext mechanisms may run on this connection
  std::optional<std::vector<std::uint8_t>> channel_binding;  // tls-exporter data
};

class Authenticator;

// One SASL conversation on one connection.
class SaslExchange {
 public:
  ~SaslExchange();
  SaslExchange(const SaslExchange&) = delete;
  SaslExchange& operator=(const SaslExchange&) = delete;

  // Mechanisms offered on this connection, space separated, in the
  // configuration's order (with -PLUS variants first where bound).
  const std::vector<std::string>& mechanisms() const { return mechanisms_; }
  bool offers(std::string_view mechanism) const;

  // Starts `mechanism`, with the client's initial response if it sent one
  // (an empty initial response is distinct from none).
  SaslStep start(std::string_view mechanism, std::optional<std::string_view> initial);
  SaslStep step(std::string_view response);

 private:
  friend class Authenticator;
  SaslExchange() = default;
  SaslStep result(int rc, const char* out, unsigned outlen);

  Authenticator* auth_ = nullptr;
  sasl_conn_t* conn_ = nullptr;
  std::vector<std::uint8_t> binding_data_;
  std::shared_ptr<void> binding_;  // libsasl keeps a pointer to it
  std::vector<std::string> mechanisms_;
};

class Authenticator {
 public:
  // Initialises libsasl for this process (once); users' credentials come
  // from `credentials` (the directory).
  static std::expected<std::unique_ptr<Authenticator>, std::string> create(
      const Config& config, std::shared_ptr<const CredentialSource> credentials);
  ~Authenticator();

  // service: "imap", "pop", "lmtp" (the GSSAPI-style service name).
  std::expected<std::unique_ptr<SaslExchange>, std::string> begin(std::string_view service,
                                                                  const SaslSecurity& security);

  // Checks a user name and password (IMAP LOGIN, POP3 USER/PASS) through the
  // same path as PLAIN.
  SaslStep check_password(std::string_view user, std::string_view password);

  // Throttling. failure_delay() is how long to wait before answering a
  // failure for this address and user; record_* update the counters.
  std::chrono::milliseconds failure_delay(const std::optional<IpAddress>& address,
                                          std::string_view user);
  void record_failure(const std::optional<IpAddress>& address, std::string_view user);
  void record_success(const std::optional<IpAddress>& address, std::string_view user);

  // Concurrent authentications per address (SCRAM costs milliseconds of
  // CPU, so logins are a denial-of-service lever).
  bool try_begin_attempt(const std::optional<IpAddress>& address);
  void end_attempt(const std::optional<IpAddress>& address);

  void update_limits(const Config::Auth& auth);

  // The authentication cache ([auth] cache_ttl): true if `password` was
  // verified for `user` (against `password_hash`, the stored hash now)
  // within the TTL; remember() records a successful verification.
  bool remembered(std::string_view user, std::string_view password, const std::string& password_hash);
  void remember(std::string_view user, std::string_view password, const std::string& password_hash);
  std::uint64_t cache_hits() const { return cache_hits_.load(std::memory_order_relaxed); }
  // The PBKDF2 iterations of new SCRAM verifiers (and of unknown users' decoys).
  unsigned scram_iterations();

  const CredentialSource& credentials() const { return *credentials_; }

 private:
  friend class SaslExchange;
  Authenticator(std::shared_ptr<const CredentialSource> credentials, const Config::Auth& auth);

  struct Failures {
    unsigned count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::chrono::milliseconds delay_for(const Failures& f) const;
  // A host of [auth] trusted_networks (webmail, a proxy) logs in many users
  // from one address: its attempts are not counted. Under mutex_.
  bool trusted(const IpAddress& address) const;
  void expire_failures(std::chrono::steady_clock::time_point now);

  std::shared_ptr<const CredentialSource> credentials_;
  std::mutex mutex_;
  Config::Auth limits_;
  std::map<IpAddress, Failures> address_failures_;
  std::map<std::string, Failures, std::less<>> user_failures_;
  std::map<IpAddress, unsigned> attempts_;

  struct Remembered {
    std::string mac;            // HMAC-SHA-256 of the password under cache_key_
    std::string password_hash;  // the stored hash it matched
    std::chrono::steady_clock::time_point until;
  };
  std::string cache_key_;  // random, this process's alone
  std::map<std::string, Remembered, std::less<>> remembered_;  // under mutex_
  std::atomic<std::uint64_t> cache_hits_{0};
  std::chrono::steady_clock::time_point last_expiry_;
};

}  // namespace roost

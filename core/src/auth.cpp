#include "roost/core/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "roost/core/ascii.hpp"
#include "roost/core/log.hpp"

namespace roost {
namespace {

// libsasl keeps its state per process, and its plugin and callbacks reach us
// through these. Set before sasl_server_init and never cleared while an
// Authenticator lives.
std::atomic<Authenticator*> current_authenticator{nullptr};
std::string mech_list_option;
std::once_flag sasl_init_once;
int sasl_init_result = SASL_FAIL;

// A crypt(3) hash of a random password, verified against when the user does
// not exist so that the answer takes as long as a real check.
std::string& decoy_hash() {
  static std::string hash = [] {
    auto record = make_user_record("decoy", "decoy-password-never-used");
    return record ? record->password_hash : std::string();
  }();
  return hash;
}

int sasl_getopt(void*, const char*, const char* option, const char** result, unsigned* len) {
  std::string_view name(option);
  const char* value = nullptr;
  if (name == "mech_list") value = mech_list_option.c_str();
  else if (name == "pwcheck_method") value = "auxprop";
  else if (name == "auxprop_plugin") value = "roost";
  else return SASL_FAIL;
  *result = value;
  if (len != nullptr) *len = static_cast<unsigned>(std::strlen(value));
  return SASL_OK;
}

int sasl_log(void*, int level, const char* message) {
  // libsasl's messages name mechanisms and users, never passwords; they are
  // useful only when debugging a client.
  if (level <= SASL_LOG_ERR) {
    log::warning({.service = "sasl"}, "sasl_error", {{"message", message}});
  } else if (level <= SASL_LOG_NOTE) {
    log::debug({.service = "sasl"}, "sasl_note", {{"message", message}});
  }
  return SASL_OK;
}

// Whether the password is the user's; an error when the directory could not
// be asked (a temporary failure for the client, never "wrong password").
std::expected<bool, std::string> verify_user_password(std::string_view user, std::string_view password) {
  Authenticator* auth = current_authenticator.load();
  if (auth == nullptr) return std::unexpected("no authenticator");
  auto record = auth->credentials().find(user);
  if (!record) return std::unexpected(record.error());
  if (!*record) {
    verify_password_hash(password, decoy_hash());
    return false;
  }
  std::string hash = (*record)->password_hash;
  if (auth->remembered(user, password, hash)) return true;
  if (!verify_password_hash(password, hash)) {
    // The credentials may come from a cache that has not heard of a new
    // password yet: ask the store itself before saying no.
    auto fresh = auth->credentials().find_fresh(user);
    if (!fresh || !*fresh || (*fresh)->password_hash == hash) return false;
    hash = (*fresh)->password_hash;
    if (!verify_password_hash(password, hash)) return false;
  }
  auth->remember(user, password, hash);
  return true;
}

int sasl_checkpass(sasl_conn_t*, void*, const char* user, const char* pass, unsigned passlen,
                   struct propctx*) {
  auto verified = verify_user_password(user, std::string_view(pass, passlen));
  if (!verified) {
    log::error({.service = "auth"}, "user_db_error", {{"error", verified.error()}});
    return SASL_FAIL;
  }
  return *verified ? SASL_OK : SASL_BADAUTH;
}

std::string hmac_bytes(std::string_view key, std::string_view data, std::size_t n) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), std::min<std::size_t>(n, len));
}

// SCRAM parameters for a user who does not exist: stable per name (so that
// asking twice shows the same salt), derived from the database's secret key,
// and never matching any proof.
std::string decoy_scram(std::string_view mechanism, std::string_view user,
                        const std::string& key, unsigned iterations) {
  std::string salt = hmac_bytes(key, "salt:" + std::string(mechanism) + ":" + std::string(user), 16);
  std::string fake_password = hmac_bytes(key, "password:" + std::string(user), 32);
  return scram_secret(mechanism, fake_password, salt, iterations);
}

int auxprop_lookup(void*, sasl_server_params_t* sparams, unsigned flags, const char* user,
                   unsigned ulen) {
  if ((flags & SASL_AUXPROP_AUTHZID) != 0) return SASL_OK;
  Authenticator* auth = current_authenticator.load();
  if (auth == nullptr) return SASL_FAIL;
  const propval* wanted = sparams->utils->prop_get(sparams->propctx);
  if (wanted == nullptr) return SASL_OK;
  bool wants_scram = false;
  for (const propval* p = wanted; p->name != nullptr; ++p) {
    if (std::strcmp(p->name, "*authPassword") == 0 && p->values == nullptr) wants_scram = true;
  }
  if (!wants_scram) return SASL_OK;

  std::string_view name(user, ulen);
  auto record = auth->credentials().find(name);
  if (!record) {
    log::error({.service = "auth"}, "user_db_error", {{"error", record.error()}});
    return SASL_FAIL;
  }
  // A user without a verifier (unknown, or a password set while
  // SCRAM-SHA-1 was off) gets a decoy: the exchange runs to the proof and
  // fails there, as for a wrong password.
  std::string sha256 = *record ? (*record)->scram_sha256 : std::string();
  std::string sha1 = *record ? (*record)->scram_sha1 : std::string();
  const unsigned iterations = auth->scram_iterations();
  if (sha256.empty()) sha256 = decoy_scram("SCRAM-SHA-256", name, auth->credentials().decoy_key(), iterations);
  if (sha1.empty()) sha1 = decoy_scram("SCRAM-SHA-1", name, auth->credentials().decoy_key(), iterations);
  sparams->utils->prop_set(sparams->propctx, "*authPassword", sha256.c_str(), -1);
  sparams->utils->prop_set(sparams->propctx, "*authPassword", sha1.c_str(), -1);
  return SASL_OK;
}

sasl_auxprop_plug_t roost_auxprop = {
    0, 0, nullptr, nullptr, auxprop_lookup, const_cast<char*>("roost"), nullptr,
};

int auxprop_init(const sasl_utils_t*, int max_version, int* out_version,
                 sasl_auxprop_plug_t** plug, const char*) {
  if (max_version < SASL_AUXPROP_PLUG_VERSION) return SASL_BADVERS;
  *out_version = SASL_AUXPROP_PLUG_VERSION;
  *plug = &roost_auxprop;
  return SASL_OK;
}

// libsasl's default mutex functions do nothing (LIBRARY-FACTS §3).
void* mutex_alloc() { return new std::mutex; }
int mutex_lock(void* m) {
  static_cast<std::mutex*>(m)->lock();
  return SASL_OK;
}
int mutex_unlock(void* m) {
  static_cast<std::mutex*>(m)->unlock();
  return SASL_OK;
}
void mutex_free(void* m) { delete static_cast<std::mutex*>(m); }

using CallbackFn = int (*)();
sasl_callback_t global_callbacks[] = {
    {SASL_CB_GETOPT, reinterpret_cast<CallbackFn>(&sasl_getopt), nullptr},
    {SASL_CB_LOG, reinterpret_cast<CallbackFn>(&sasl_log), nullptr},
    {SASL_CB_SERVER_USERDB_CHECKPASS, reinterpret_cast<CallbackFn>(&sasl_checkpass), nullptr},
    {SASL_CB_LIST_END, nullptr, nullptr},
};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

Authenticator::Authenticator(std::shared_ptr<const CredentialSource> credentials, const Config::Auth& auth)
    : credentials_(std::move(credentials)), limits_(auth), cache_key_(32, '\0') {
  RAND_bytes(reinterpret_cast<unsigned char*>(cache_key_.data()), static_cast<int>(cache_key_.size()));
}

bool Authenticator::remembered(std::string_view user, std::string_view password, const std::string& password_hash) {
  std::lock_guard lock(mutex_);
  auto it = remembered_.find(user);
  if (it == remembered_.end()) return false;
  const Remembered& r = it->second;
  if (std::chrono::steady_clock::now() >= r.until || r.password_hash != password_hash) {
    remembered_.erase(it);
    return false;
  }
  // A wrong password misses, and leaves the entry: guessing must not make
  // the right password's next login dear again.
  const std::string mac = hmac_bytes(cache_key_, password, 32);
  if (CRYPTO_memcmp(mac.data(), r.mac.data(), mac.size()) != 0) return false;
  cache_hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Authenticator::remember(std::string_view user, std::string_view password, const std::string& password_hash) {
  std::lock_guard lock(mutex_);
  if (limits_.cache_ttl.count() <= 0 || limits_.cache_size == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (remembered_.size() >= limits_.cache_size) {
    std::erase_if(remembered_, [&](const auto& entry) { return entry.second.until <= now; });
    // Still full of live entries: start again rather than keep a list of ages.
    if (remembered_.size() >= limits_.cache_size) remembered_.clear();
  }
  remembered_.insert_or_assign(std::string(user),
                               Remembered{hmac_bytes(cache_key_, password, 32), password_hash, now + limits_.cache_ttl});
}

Authenticator::~Authenticator() {
  Authenticator* self = this;
  current_authenticator.compare_exchange_strong(self, nullptr);
}

std::expected<std::unique_ptr<Authenticator>, std::string> Authenticator::create(
    const Config& config, std::shared_ptr<const CredentialSource> credentials) {
  if (!credentials) return std::unexpected("no user directory");
  decoy_hash();
  std::call_once(sasl_init_once, [&] {
    mech_list_option = join(config.auth.mechanisms);
    sasl_set_mutex(&mutex_alloc, &mutex_lock, &mutex_unlock, &mutex_free);
    sasl_init_result = sasl_auxprop_add_plugin("roost", &auxprop_init);
    if (sasl_init_result == SASL_OK) {
      sasl_init_result = sasl_server_init(global_callbacks, "roost");
    }
  });
  if (sasl_init_result != SASL_OK) {
    return std::unexpected(std::string("cannot initialise Cyrus SASL: ") +
                           sasl_errstring(sasl_init_result, nullptr, nullptr));
  }
  auto auth = std::unique_ptr<Authenticator>(new Authenticator(std::move(credentials), config.auth));
  current_authenticator.store(auth.get());
  return auth;
}

void Authenticator::update_limits(const Config::Auth& auth) {
  std::lock_guard lock(mutex_);
  limits_ = auth;
  if (limits_.cache_ttl.count() <= 0) remembered_.clear();
}

std::expected<std::unique_ptr<SaslExchange>, std::string> Authenticator::begin(
    std::string_view service, const SaslSecurity& security) {
  std::unique_ptr<SaslExchange> exchange(new SaslExchange());
  exchange->auth_ = this;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  int rc = sasl_server_new(std::string(service).c_str(), host, nullptr, nullptr, nullptr, nullptr,
                           0, &exchange->conn_);
  if (rc != SASL_OK) {
    return std::unexpected(std::string("sasl_server_new: ") + sasl_errstring(rc, nullptr, nullptr));
  }
  sasl_security_properties_t props{};
  props.min_ssf = 0;
  props.max_ssf = 0;  // no SASL security layer: TLS protects the connection
  props.maxbufsize = 0;
  props.security_flags = security.plaintext_allowed ? 0 : SASL_SEC_NOPLAINTEXT;
  sasl_setprop(exchange->conn_, SASL_SEC_PROPS, &props);
  if (security.tls) {
    sasl_ssf_t ssf = security.tls_bits;
    sasl_setprop(exchange->conn_, SASL_SSF_EXTERNAL, &ssf);
  }
  bool channel_binding = false;
  {
    std::lock_guard lock(mutex_);
    channel_binding = limits_.channel_binding;
  }
  if (security.channel_binding && channel_binding) {
    exchange->binding_data_ = *security.channel_binding;
  }
  if (!exchange->binding_data_.empty()) {
    auto binding = std::make_shared<sasl_channel_binding_t>(sasl_channel_binding_t{
        "tls-exporter", 0, exchange->binding_data_.size(), exchange->binding_data_.data()});
    sasl_setprop(exchange->conn_, SASL_CHANNEL_BINDING, binding.get());
    exchange->binding_ = std::move(binding);
  }

  const char* listed = nullptr;
  unsigned listed_len = 0;
  int count = 0;
  rc = sasl_listmech(exchange->conn_, nullptr, "", " ", "", &listed, &listed_len, &count);
  std::vector<std::string> available;
  if (rc == SASL_OK && listed != nullptr) {
    std::string_view all(listed, listed_len);
    while (!all.empty()) {
      auto sp = all.find(' ');
      available.emplace_back(all.substr(0, sp));
      all = sp == std::string_view::npos ? std::string_view() : all.substr(sp + 1);
    }
  }
  std::vector<std::string> configured;
  {
    std::lock_guard lock(mutex_);
    configured = limits_.mechanisms;
  }
  for (const auto& base : configured) {
    for (const auto& candidate : {base + "-PLUS", base}) {
      if (std::ranges::find(available, candidate) != available.end()) {
        exchange->mechanisms_.push_back(candidate);
      }
    }
  }
  return exchange;
}

SaslExchange::~SaslExchange() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

bool SaslExchange::offers(std::string_view mechanism) const {
  return std::ranges::any_of(mechanisms_, [&](const std::string& m) {
    return ascii_iequals(m, mechanism);
  });
}

SaslStep SaslExchange::result(int rc, const char* out, unsigned outlen) {
  SaslStep step;
  switch (rc) {
    case SASL_CONTINUE:
      step.kind = SaslStep::Kind::challenge;
      step.data.assign(out == nullptr ? "" : out, out == nullptr ? 0 : outlen);
      return step;
    case SASL_OK: {
      const void* name = nullptr;
      sasl_getprop(conn_, SASL_USERNAME, &name);
      auto canonical = canonical_user_name(name == nullptr ? "" : static_cast<const char*>(name));
      if (!canonical) {
        step.kind = SaslStep::Kind::failure;
        step.detail = "authenticated name is not valid";
        return step;
      }
      step.kind = SaslStep::Kind::success;
      step.user = *canonical;
      step.data.assign(out == nullptr ? "" : out, out == nullptr ? 0 : outlen);
      return step;
    }
    case SASL_BADAUTH:
    case SASL_NOUSER:
    case SASL_NOAUTHZ:
    case SASL_BADPROT:
    case SASL_BADPARAM:
    case SASL_EXPIRED:
    case SASL_DISABLED:
    case SASL_NOVERIFY:
    case SASL_TOOWEAK:
    case SASL_ENCRYPT:
    case SASL_NOMECH:
      step.kind = SaslStep::Kind::failure;
      break;
    default:
      step.kind = SaslStep::Kind::error;
      break;
  }
  const char* detail = sasl_errdetail(conn_);
  step.detail = detail == nullptr ? sasl_errstring(rc, nullptr, nullptr) : detail;
  return step;
}

SaslStep SaslExchange::start(std::string_view mechanism, std::optional<std::string_view> initial) {
  if (!offers(mechanism)) {
    SaslStep step;
    step.kind = SaslStep::Kind::protocol;
    step.detail = "mechanism not offered";
    return step;
  }
  // Zero the output first: libsasl may return OK without touching it
  // (LIBRARY-FACTS §3).
  const char* out = nullptr;
  unsigned outlen = 0;
  const std::string mech = ascii_uppercase(mechanism);
  int rc = sasl_server_start(conn_, mech.c_str(), initial ? initial->data() : nullptr,
                             initial ? static_cast<unsigned>(initial->size()) : 0, &out, &outlen);
  return result(rc, out, outlen);
}

SaslStep SaslExchange::step(std::string_view response) {
  const char* out = nullptr;
  unsigned outlen = 0;
  int rc = sasl_server_step(conn_, response.data(), static_cast<unsigned>(response.size()), &out,
                            &outlen);
  return result(rc, out, outlen);
}

SaslStep Authenticator::check_password(std::string_view user, std::string_view password) {
  SaslStep step;
  auto canonical = canonical_user_name(user);
  if (!canonical) {
    verify_password_hash(password, decoy_hash());
    step.kind = SaslStep::Kind::failure;
    step.detail = "invalid user name";
    return step;
  }
  auto verified = verify_user_password(*canonical, password);
  if (!verified) {
    step.kind = SaslStep::Kind::error;
    step.detail = verified.error();
  } else if (*verified) {
    step.kind = SaslStep::Kind::success;
    step.user = *canonical;
  } else {
    step.kind = SaslStep::Kind::failure;
    step.detail = "wrong password or unknown user";
  }
  return step;
}

std::chrono::milliseconds Authenticator::delay_for(const Failures& f) const {
  if (f.count == 0) return std::chrono::milliseconds::zero();
  auto delay = limits_.failure_delay;
  for (unsigned i = 1; i < f.count && delay < limits_.failure_delay_max; ++i) delay *= 2;
  return std::min(delay, limits_.failure_delay_max);
}

void Authenticator::expire_failures(std::chrono::steady_clock::time_point now) {
  if (now - last_expiry_ < std::chrono::seconds(10)) return;
  last_expiry_ = now;
  std::erase_if(address_failures_,
                [&](const auto& e) { return now - e.second.last > limits_.failure_window; });
  std::erase_if(user_failures_,
                [&](const auto& e) { return now - e.second.last > limits_.failure_window; });
}

namespace {

// The name failures are counted under: the canonical name, so that "carol"
// and "CArol" share one count; a name that cannot be canonical (no such
// user can exist) in lower case, bounded.
std::string throttle_key(std::string_view user) {
  if (auto canonical = canonical_user_name(user)) return std::move(*canonical);
  return ascii_lowercase(user.substr(0, 255));
}

}  // namespace

std::chrono::milliseconds Authenticator::failure_delay(const std::optional<IpAddress>& address,
                                                       std::string_view user_as_given) {
  const std::string user = throttle_key(user_as_given);
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  expire_failures(now);
  auto delay = limits_.failure_delay;
  if (address) {
    if (auto it = address_failures_.find(*address); it != address_failures_.end()) {
      delay = std::max(delay, delay_for(it->second));
    }
  }
  if (auto it = user_failures_.find(user); it != user_failures_.end()) {
    delay = std::max(delay, delay_for(it->second));
  }
  return delay;
}

void Authenticator::record_failure(const std::optional<IpAddress>& address,
                                   std::string_view user_as_given) {
  const std::string user = throttle_key(user_as_given);
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (address) {
    auto& f = address_failures_[*address];
    ++f.count;
    f.last = now;
  }
  if (!user.empty()) {
    auto it = user_failures_.find(user);
    if (it == user_failures_.end()) it = user_failures_.emplace(std::string(user), Failures{}).first;
    ++it->second.count;
    it->second.last = now;
  }
}

void Authenticator::record_success(const std::optional<IpAddress>&, std::string_view user_as_given) {
  const std::string user = throttle_key(user_as_given);
  // Only the user's count is cleared: one good account must not reset the
  // throttle of an address that is guessing others.
  std::lock_guard lock(mutex_);
  if (auto it = user_failures_.find(user); it != user_failures_.end()) user_failures_.erase(it);
}

bool Authenticator::trusted(const IpAddress& address) const {
  return std::ranges::any_of(limits_.trusted_networks, [&](const Cidr& net) { return net.contains(address); });
}

unsigned Authenticator::scram_iterations() {
  std::lock_guard lock(mutex_);
  return limits_.scram_iterations;
}

bool Authenticator::try_begin_attempt(const std::optional<IpAddress>& address) {
  if (!address) return true;
  std::lock_guard lock(mutex_);
  if (trusted(*address)) return true;
  auto& n = attempts_[*address];
  if (n >= limits_.max_concurrent_per_ip) return false;
  ++n;
  return true;
}

void Authenticator::end_attempt(const std::optional<IpAddress>& address) {
  if (!address) return;
  std::lock_guard lock(mutex_);
  if (trusted(*address)) return;
  auto it = attempts_.find(*address);
  if (it == attempts_.end()) return;
  if (--it->second == 0) attempts_.erase(it);
}

}  // namespace roost

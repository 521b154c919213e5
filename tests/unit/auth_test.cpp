// Authentication through the real Cyrus SASL library, server (ours) against
// libsasl's own client, in one process.
#include "roost/core/auth.hpp"

#include <gtest/gtest.h>

#include <map>
#include <sasl/sasl.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace roost {
namespace {

namespace fs = std::filesystem;

struct ClientSecrets {
  std::string user;
  std::string password;
  sasl_secret_t* secret = nullptr;
};

int get_simple(void* context, int id, const char** result, unsigned* len) {
  auto* s = static_cast<ClientSecrets*>(context);
  if (id == SASL_CB_AUTHNAME || id == SASL_CB_USER) {
    *result = id == SASL_CB_USER ? "" : s->user.c_str();
    if (len != nullptr) *len = static_cast<unsigned>(std::strlen(*result));
    return SASL_OK;
  }
  return SASL_FAIL;
}

int get_secret(sasl_conn_t*, void* context, int, sasl_secret_t** psecret) {
  auto* s = static_cast<ClientSecrets*>(context);
  std::free(s->secret);
  s->secret = static_cast<sasl_secret_t*>(std::malloc(sizeof(sasl_secret_t) + s->password.size()));
  s->secret->len = s->password.size();
  std::memcpy(s->secret->data, s->password.data(), s->password.size());
  *psecret = s->secret;
  return SASL_OK;
}

// Credentials held in memory: core's authentication asks a CredentialSource,
// whichever directory engine stands behind it.
class MemoryCredentials : public CredentialSource {
 public:
  void add(UserRecord record) { users_[record.name] = std::move(record); }
  std::expected<std::optional<UserRecord>, std::string> find(std::string_view name) const override {
    auto canonical = canonical_user_name(name);
    if (!canonical) return std::optional<UserRecord>{};
    auto it = users_.find(*canonical);
    if (it == users_.end()) return std::optional<UserRecord>{};
    return std::optional<UserRecord>(it->second);
  }
  const std::string& decoy_key() const override { return decoy_key_; }
  std::expected<void, std::string> admit(std::string_view) const override { return {}; }

 private:
  std::map<std::string, UserRecord> users_;
  std::string decoy_key_ = "a key of the test's own";
};

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("roost-auth-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    auto config = parse_config("data_dir = " + dir_.string() +
                                   "\n[auth]\nfailure_delay = 100ms\nfailure_delay_max = 1s\n"
                                   "mechanisms = PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1\nchannel_binding = true\n"
                                   "max_concurrent_per_ip = 2\n",
                               dir_ / "roost.conf");
    ASSERT_TRUE(config) << config.error().message;
    auto credentials = std::make_shared<MemoryCredentials>();
    auto record = make_user_record("Alice", "correct horse battery", ScramSettings{.sha1 = true, .iterations = 4096});
    ASSERT_TRUE(record) << record.error();
    credentials->add(*record);
    auto auth = Authenticator::create(*config, credentials);
    ASSERT_TRUE(auth) << auth.error();
    auth_ = std::move(*auth);
    ASSERT_EQ(sasl_client_init(nullptr), SASL_OK);
  }
  static void TearDownTestSuite() {
    auth_.reset();
    fs::remove_all(dir_);
  }

  // Runs a full exchange with libsasl's client; returns the server's last step.
  SaslStep run(const std::string& mech, const std::string& user, const std::string& password,
               const SaslSecurity& security,
               std::optional<std::vector<std::uint8_t>> client_binding = std::nullopt,
               int* server_steps = nullptr) {
    ClientSecrets secrets{user, password};
    sasl_callback_t callbacks[] = {
        {SASL_CB_AUTHNAME, reinterpret_cast<int (*)()>(&get_simple), &secrets},
        {SASL_CB_USER, reinterpret_cast<int (*)()>(&get_simple), &secrets},
        {SASL_CB_PASS, reinterpret_cast<int (*)()>(&get_secret), &secrets},
        {SASL_CB_LIST_END, nullptr, nullptr}};
    sasl_conn_t* client = nullptr;
    EXPECT_EQ(sasl_client_new("imap", "localhost", nullptr, nullptr, callbacks, 0, &client),
              SASL_OK);
    sasl_security_properties_t props{};
    sasl_setprop(client, SASL_SEC_PROPS, &props);
    sasl_channel_binding_t cb{"tls-exporter", 0, 0, nullptr};
    if (client_binding) {
      cb.len = client_binding->size();
      cb.data = client_binding->data();
      sasl_setprop(client, SASL_CHANNEL_BINDING, &cb);
    }
    auto exchange = auth_->begin("imap", security);
    EXPECT_TRUE(exchange);
    const char* out = nullptr;
    unsigned outlen = 0;
    const char* chosen = nullptr;
    int rc = sasl_client_start(client, mech.c_str(), nullptr, &out, &outlen, &chosen);
    EXPECT_TRUE(rc == SASL_OK || rc == SASL_CONTINUE) << sasl_errdetail(client);
    SaslStep step = (*exchange)->start(mech, std::string_view(out == nullptr ? "" : out, outlen));
    int steps = 1;
    while (step.kind == SaslStep::Kind::challenge) {
      out = nullptr;
      outlen = 0;
      rc = sasl_client_step(client, step.data.data(), static_cast<unsigned>(step.data.size()),
                            nullptr, &out, &outlen);
      if (rc != SASL_OK && rc != SASL_CONTINUE) break;
      step = (*exchange)->step(std::string_view(out == nullptr ? "" : out, outlen));
      ++steps;
    }
    sasl_dispose(&client);
    std::free(secrets.secret);
    if (server_steps != nullptr) *server_steps = steps;
    return step;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Authenticator> auth_;
  const SaslSecurity tls_{.tls = true, .tls_bits = 256, .plaintext_allowed = true};
};

TEST_F(AuthTest, MechanismsOfferedDependOnTheConnection) {
  auto plain_conn = auth_->begin("imap", SaslSecurity{});
  ASSERT_TRUE(plain_conn);
  EXPECT_EQ((*plain_conn)->mechanisms(),
            (std::vector<std::string>{"SCRAM-SHA-256", "SCRAM-SHA-1"}));
  auto bound = auth_->begin("imap", SaslSecurity{.tls = true, .tls_bits = 256,
                                                 .plaintext_allowed = true,
                                                 .channel_binding = std::vector<std::uint8_t>(32, 7)});
  ASSERT_TRUE(bound);
  EXPECT_EQ((*bound)->mechanisms(),
            (std::vector<std::string>{"PLAIN", "LOGIN", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
                                      "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}));
}

TEST_F(AuthTest, PlainSucceedsAndFailsAlike) {
  auto ok = run("PLAIN", "alice", "correct horse battery", tls_);
  EXPECT_EQ(ok.kind, SaslStep::Kind::success) << ok.detail;
  EXPECT_EQ(ok.user, "alice");
  auto wrong = run("PLAIN", "alice", "wrong", tls_);
  auto unknown = run("PLAIN", "mallory", "wrong", tls_);
  EXPECT_EQ(wrong.kind, SaslStep::Kind::failure);
  EXPECT_EQ(unknown.kind, SaslStep::Kind::failure);
  EXPECT_EQ(wrong.data, unknown.data);
}

TEST_F(AuthTest, LoginMechanism) {
  EXPECT_EQ(run("LOGIN", "ALICE", "correct horse battery", tls_).kind, SaslStep::Kind::success);
  EXPECT_EQ(run("LOGIN", "alice", "nope", tls_).kind, SaslStep::Kind::failure);
}

TEST_F(AuthTest, ScramSha256AndSha1) {
  for (std::string mech : {"SCRAM-SHA-256", "SCRAM-SHA-1"}) {
    auto ok = run(mech, "alice", "correct horse battery", tls_);
    EXPECT_EQ(ok.kind, SaslStep::Kind::success) << mech << ": " << ok.detail;
    EXPECT_EQ(ok.user, "alice");
    EXPECT_EQ(run(mech, "alice", "wrong", tls_).kind, SaslStep::Kind::failure) << mech;
  }
}

TEST_F(AuthTest, ScramUnknownUserFailsAtTheSameStepAsAWrongPassword) {
  int wrong_steps = 0, unknown_steps = 0;
  auto wrong = run("SCRAM-SHA-256", "alice", "wrong", tls_, std::nullopt, &wrong_steps);
  auto unknown = run("SCRAM-SHA-256", "mallory", "wrong", tls_, std::nullopt, &unknown_steps);
  EXPECT_EQ(wrong.kind, SaslStep::Kind::failure);
  EXPECT_EQ(unknown.kind, SaslStep::Kind::failure);
  EXPECT_EQ(wrong_steps, unknown_steps);
  EXPECT_EQ(wrong_steps, 2);  // the proof was checked, not the name
}

TEST_F(AuthTest, ScramPlusChecksTheChannelBinding) {
  std::vector<std::uint8_t> binding(32, 0x42);
  SaslSecurity bound = tls_;
  bound.channel_binding = binding;
  auto ok = run("SCRAM-SHA-256-PLUS", "alice", "correct horse battery", bound, binding);
  EXPECT_EQ(ok.kind, SaslStep::Kind::success) << ok.detail;
  std::vector<std::uint8_t> other(32, 0x43);
  auto mismatch = run("SCRAM-SHA-256-PLUS", "alice", "correct horse battery", bound, other);
  EXPECT_EQ(mismatch.kind, SaslStep::Kind::failure);
}

TEST_F(AuthTest, CleartextMechanismRefusedWithoutTls) {
  auto exchange = auth_->begin("imap", SaslSecurity{});
  ASSERT_TRUE(exchange);
  auto step = (*exchange)->start("PLAIN", std::string_view("\0alice\0correct horse battery", 28));
  EXPECT_EQ(step.kind, SaslStep::Kind::protocol);
}

TEST_F(AuthTest, CheckPassword) {
  EXPECT_EQ(auth_->check_password("Alice", "correct horse battery").kind,
            SaslStep::Kind::success);
  EXPECT_EQ(auth_->check_password("alice", "x").kind, SaslStep::Kind::failure);
  EXPECT_EQ(auth_->check_password("nobody", "x").kind, SaslStep::Kind::failure);
  EXPECT_EQ(auth_->check_password("../etc", "x").kind, SaslStep::Kind::failure);
}

TEST_F(AuthTest, FailuresAreThrottledPerAddressAndUser) {
  auto ip = IpAddress::parse("192.0.2.50");
  using ms = std::chrono::milliseconds;
  EXPECT_EQ(auth_->failure_delay(*ip, "carol"), ms(100));
  auth_->record_failure(*ip, "carol");
  auth_->record_failure(*ip, "carol");
  EXPECT_EQ(auth_->failure_delay(*ip, "carol"), ms(200));
  auth_->record_failure(*ip, "carol");
  EXPECT_EQ(auth_->failure_delay(*ip, "carol"), ms(400));
  // The user's count follows them to another address, the address's to another user.
  EXPECT_EQ(auth_->failure_delay(*IpAddress::parse("192.0.2.51"), "carol"), ms(400));
  EXPECT_EQ(auth_->failure_delay(*ip, "dave"), ms(400));
  for (int i = 0; i < 20; ++i) auth_->record_failure(*ip, "carol");
  EXPECT_EQ(auth_->failure_delay(*ip, "carol"), ms(1000));  // capped at failure_delay_max
}

TEST_F(AuthTest, FailuresCountUnderTheCanonicalName) {
  // "erin", "ERin" and "eRIN" are one user: one count, not three fresh ones.
  auto ip = IpAddress::parse("192.0.2.60");
  auto other = IpAddress::parse("192.0.2.61");
  using ms = std::chrono::milliseconds;
  auth_->record_failure(*ip, "erin");
  auth_->record_failure(*ip, "ERin");
  auth_->record_failure(*ip, "eRIN");
  EXPECT_EQ(auth_->failure_delay(*other, "Erin"), ms(400));
  auth_->record_success(*other, "ERIN");
  EXPECT_EQ(auth_->failure_delay(*other, "erin"), ms(100));
}

TEST_F(AuthTest, ConcurrentAttemptsPerAddressAreLimited) {
  auto ip = IpAddress::parse("192.0.2.60");
  EXPECT_TRUE(auth_->try_begin_attempt(*ip));
  EXPECT_TRUE(auth_->try_begin_attempt(*ip));
  EXPECT_FALSE(auth_->try_begin_attempt(*ip));
  EXPECT_TRUE(auth_->try_begin_attempt(*IpAddress::parse("192.0.2.61")));
  auth_->end_attempt(*ip);
  EXPECT_TRUE(auth_->try_begin_attempt(*ip));
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(base64_decode("AGFsaWNlAHNlY3JldA=="), std::string("\0alice\0secret", 13));
  EXPECT_EQ(base64_decode(""), std::string());
  EXPECT_EQ(base64_decode("Zg=="), "f");  // RFC 4648 §10 test vectors
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9v"), "foo");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(base64_decode("AGFsaWNl!!=="));
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("Zg=a"));
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("Zm9v\r\n"));
  EXPECT_FALSE(base64_decode("Zm 9"));
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\0alice\0secret", 13)), "AGFsaWNlAHNlY3JldA==");
}

TEST(UserName, Canonical) {
  EXPECT_EQ(canonical_user_name("Alice@Example.ORG"), "alice@example.org");
  EXPECT_FALSE(canonical_user_name(""));
  EXPECT_FALSE(canonical_user_name("a b"));
  EXPECT_FALSE(canonical_user_name("../x"));
  EXPECT_FALSE(canonical_user_name("a/b"));
  EXPECT_FALSE(canonical_user_name(std::string(256, 'a')));
}

}  // namespace
}  // namespace roost

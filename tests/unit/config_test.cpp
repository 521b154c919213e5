#include "roost/core/config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace roost {
namespace {

std::expected<Config, ConfigError> parse(std::string_view text) {
  return parse_config(text, "/etc/roost/roost.conf");
}

std::string error_of(std::string_view text) {
  auto c = parse(text);
  EXPECT_FALSE(c.has_value()) << "expected an error for:\n" << text;
  return c ? std::string() : c.error().message;
}

TEST(Config, EmptyFileGivesEveryDefault) {
  auto c = parse("");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->data_dir, "/var/lib/roost");
  EXPECT_EQ(c->run_dir, "/run/roost");
  EXPECT_EQ(c->log.level, LogLevel::info);
  EXPECT_EQ(c->limits.max_line_length, 64u * 1024);
  EXPECT_EQ(c->limits.idle_timeout, std::chrono::minutes(30));
  EXPECT_EQ(c->auth.mechanisms,
            (std::vector<std::string>{"PLAIN", "LOGIN", "SCRAM-SHA-256"}));
  EXPECT_FALSE(c->auth.allow_plaintext_loopback);
  EXPECT_EQ(c->auth.user_db, "/var/lib/roost/users");
  EXPECT_EQ(c->admin.socket, "/run/roost/admin.sock");
  EXPECT_FALSE(c->metrics.listen.has_value());
  EXPECT_TRUE(c->listeners.empty());
}

TEST(Config, ReadsSectionsListenersAndUnits) {
  auto c = parse(R"(# a comment
data_dir = /srv/mail
[log]
level = debug
[limits]
max_line_length = 8K
login_timeout = 250ms
idle_timeout = 2h
[tls]
certificate = tls/cert.pem
key = "/etc/ssl/key.pem"
[proxy_protocol]
trusted_networks = 10.0.0.0/8, 2001:db8::/32
[listener imap]
service = imap
address = [::1]:143
tls = starttls
proxy_protocol = yes
[listener lmtp]
service = lmtp
address = unix:lmtp.sock
)");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->data_dir, "/srv/mail");
  EXPECT_EQ(c->log.level, LogLevel::debug);
  EXPECT_EQ(c->limits.max_line_length, 8192u);
  EXPECT_EQ(c->limits.login_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(c->limits.idle_timeout, std::chrono::hours(2));
  EXPECT_EQ(c->tls.certificate, "/etc/roost/tls/cert.pem");  // relative to the file
  EXPECT_EQ(c->tls.key, "/etc/ssl/key.pem");
  ASSERT_EQ(c->proxy.trusted_networks.size(), 2u);
  EXPECT_TRUE(c->proxy.trusted_networks[0].contains(*IpAddress::parse("10.1.2.3")));
  EXPECT_FALSE(c->proxy.trusted_networks[0].contains(*IpAddress::parse("11.1.2.3")));
  ASSERT_EQ(c->listeners.size(), 2u);
  EXPECT_EQ(c->listeners[0].name, "imap");
  EXPECT_EQ(c->listeners[0].address.host, "::1");
  EXPECT_EQ(c->listeners[0].address.port, 143);
  EXPECT_EQ(c->listeners[0].tls, TlsMode::starttls);
  EXPECT_TRUE(c->listeners[0].proxy_protocol);
  EXPECT_EQ(c->listeners[1].address.kind, ListenAddress::Kind::unix_socket);
  EXPECT_EQ(c->listeners[1].address.path, "/run/roost/lmtp.sock");  // relative to run_dir
}

TEST(Config, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("\n\nbogus = 1\n"), "/etc/roost/roost.conf:3: unknown key 'bogus' at top level");
  EXPECT_EQ(error_of("[log]\nlevel = loud\n"),
            "/etc/roost/roost.conf:2: bad value for 'level': expected debug, info, warning or "
            "error, got 'loud'");
  EXPECT_EQ(error_of("[nonsense]\n"), "/etc/roost/roost.conf:1: unknown section [nonsense]");
  EXPECT_EQ(error_of("[log\n"), "/etc/roost/roost.conf:1: section header must end with ']'");
  EXPECT_EQ(error_of("just words\n"), "/etc/roost/roost.conf:1: expected 'key = value'");
  EXPECT_EQ(error_of("[log]\nlevel = info\nlevel = debug\n"),
            "/etc/roost/roost.conf:3: 'level' is set twice (first on line 2)");
  EXPECT_EQ(error_of("[runtime]\nio_threads = many\n"),
            "/etc/roost/roost.conf:2: bad value for 'io_threads': expected a whole number, got "
            "'many'");
  EXPECT_EQ(error_of("[runtime]\nio_threads = 1000\n"),
            "/etc/roost/roost.conf:2: bad value for 'io_threads': expected a number from 0 to "
            "256, got '1000'");
  EXPECT_EQ(error_of("[limits]\nidle_timeout = soon\n"),
            "/etc/roost/roost.conf:2: bad value for 'idle_timeout': expected a duration such as "
            "500ms, 30s, 5m or 1h, got 'soon'");
  EXPECT_EQ(error_of("[limits]\nmax_line_length = 12 parsecs\n"),
            "/etc/roost/roost.conf:2: bad value for 'max_line_length': expected a size such as "
            "65536, 64K, 10M or 1G, got '12 parsecs'");
  EXPECT_EQ(error_of("[auth]\nmechanisms = PLAIN CRAM-MD5\n"),
            "/etc/roost/roost.conf:2: bad value for 'mechanisms': unsupported mechanism "
            "'CRAM-MD5' (supported: PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1)");
  EXPECT_EQ(error_of("[proxy_protocol]\ntrusted_networks = 10.0.0.0/33\n"),
            "/etc/roost/roost.conf:2: bad value for 'trusted_networks': bad prefix length in "
            "'10.0.0.0/33'");
}

TEST(Config, ListenerErrors) {
  EXPECT_EQ(error_of("[listener]\n"), "/etc/roost/roost.conf:1: expected [listener NAME]");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\naddress = 127.0.0.1:1\n[listener a]\n"),
            "/etc/roost/roost.conf:4: listener 'a' is defined twice");
  EXPECT_EQ(error_of("[listener a]\naddress = 127.0.0.1:1\n"),
            "/etc/roost/roost.conf:1: listener 'a' has no service");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\n"),
            "/etc/roost/roost.conf:1: listener 'a' has no address");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\naddress = localhost:143\n"),
            "/etc/roost/roost.conf:3: bad value for 'address': not an IP address: 'localhost'");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\naddress = 127.0.0.1:99999\n"),
            "/etc/roost/roost.conf:3: bad value for 'address': bad port in '127.0.0.1:99999'");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\naddress = 127.0.0.1:1\ntls = maybe\n"),
            "/etc/roost/roost.conf:4: bad value for 'tls': expected none, starttls or implicit, "
            "got 'maybe'");
  EXPECT_EQ(error_of("[listener a]\nservice = imap\naddress = 127.0.0.1:1\nlevel = debug\n"),
            "/etc/roost/roost.conf:4: unknown key 'level' in [listener a]");
  auto tls_without_cert = error_of("[listener a]\nservice = imap\naddress = 127.0.0.1:1\ntls = implicit\n");
  EXPECT_NE(tls_without_cert.find("[tls] certificate or key is not set"), std::string::npos);
}

TEST(Config, LoadReportsMissingFile) {
  auto c = load_config("/nonexistent/roost.conf");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "/nonexistent/roost.conf: cannot open the file");
}

// docs/configuration.md must list every setting with its default.
TEST(Config, DocumentationListsEverySetting) {
  std::ifstream in(std::string(ROOST_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& s : config_reference()) {
    std::string row = "| `" + std::string(s.key) + "` | `" + std::string(s.default_value) + "` |";
    if (s.default_value.empty()) row = "| `" + std::string(s.key) + "` | (empty) |";
    std::string section_heading =
        s.section.empty() ? "## Top level" : "## [" + std::string(s.section) + "]";
    if (s.section == "listener") section_heading = "## [listener NAME]";
    auto section_at = text.str().find(section_heading);
    ASSERT_NE(section_at, std::string::npos) << "no heading " << section_heading;
    auto next = text.str().find("\n## ", section_at + 1);
    auto body = text.str().substr(section_at, next - section_at);
    EXPECT_NE(body.find(row), std::string::npos)
        << "docs/configuration.md: under '" << section_heading << "' expected a row starting\n"
        << row;
  }
}

}  // namespace
}  // namespace roost

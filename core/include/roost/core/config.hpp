// Configuration: one file, roost.conf. See docs/configuration.md for the
// format and every setting with its default.
//
// Parsing is pure: it reads text and yields a Config or an error naming the
// file and line. Every setting has a default, applied through the same parser
// as the file's values, so the documented default is the real one.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "roost/core/net_address.hpp"
#include "roost/core/uidl_format.hpp"

namespace roost {

enum class LogLevel { debug, info, warning, error };
enum class TlsMode { none, starttls, implicit };

struct ListenerConfig {
  std::string name;     // the section's label: [listener NAME]
  std::string service;  // which protocol service answers (imap, pop3, lmtp, ...)
  ListenAddress address;
  TlsMode tls = TlsMode::none;
  bool proxy_protocol = false;
  std::uint32_t socket_mode = 0660;  // UNIX sockets only
};

struct Config {
  std::filesystem::path file;  // where it was read from; relative paths resolve against its folder

  std::filesystem::path data_dir;
  std::filesystem::path run_dir;

  // Whom roostd runs as once its listeners are bound and its TLS key read.
  struct Server {
    std::string user;          // empty: stay who started it
    std::string group;         // empty: the user's primary group
    bool run_as_root = false;  // may it keep running as root with no user given?
  } server;

  struct Log {
    LogLevel level = LogLevel::info;
    bool syslog = false;
  } log;

  struct Runtime {
    unsigned io_threads = 0;  // 0: one per core
    unsigned blocking_threads = 4;
    unsigned auth_threads = 2;
    std::chrono::milliseconds shutdown_timeout{};
  } runtime;

  struct Limits {
    unsigned max_connections = 0;
    unsigned max_connections_per_ip = 0;
    std::size_t max_line_length = 0;
    std::size_t max_output_buffer = 0;
    std::chrono::milliseconds write_timeout{};
    std::chrono::milliseconds login_timeout{};
    std::chrono::milliseconds idle_timeout{};
  } limits;

  struct Tls {
    std::filesystem::path certificate;
    std::filesystem::path key;
    std::string min_version;  // "1.2" or "1.3"
    std::string ciphers;      // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
  } tls;

  struct Auth {
    std::filesystem::path user_db;
    std::vector<std::string> mechanisms;
    bool allow_plaintext_loopback = false;
    bool channel_binding = false;   // offer SCRAM-*-PLUS (TLS 1.3 tls-exporter)
    unsigned scram_iterations = 0;  // PBKDF2 iterations of new SCRAM verifiers
    unsigned max_concurrent_per_ip = 0;
    std::vector<Cidr> trusted_networks;  // exempt from max_concurrent_per_ip (webmail, proxies)
    std::chrono::milliseconds timeout{};
    std::chrono::milliseconds failure_delay{};
    std::chrono::milliseconds failure_delay_max{};
    std::chrono::milliseconds failure_window{};
    std::chrono::milliseconds cache_ttl{};  // remembered password verifications; 0: none
    unsigned cache_size = 0;
  } auth;

  struct Directory {
    std::string engine = "lmdb";  // lmdb ([auth] user_db) or postgresql
    std::string conninfo;         // libpq connection string (postgresql); never logged
    unsigned pool_size = 4;       // PostgreSQL connections per process
    std::string shard;            // this node's shard id; empty: it serves local users only
    std::chrono::milliseconds cache_ttl{};    // PostgreSQL look-ups remembered
    std::chrono::milliseconds cache_stale{};  // ... and served while the database is away
    unsigned cache_size = 0;
  } directory;

  struct Proxy {
    std::vector<Cidr> trusted_networks;
    std::chrono::milliseconds header_timeout{};
  } proxy;

  struct Mail {
    std::filesystem::path mail_dir;  // users' maildirs: mail_dir/<user>
    std::string host_name;           // in new file names; empty: the system's
    // Folders made at a user's first login: name and special-use attribute
    // ("\\Sent", or empty for none).
    std::vector<std::pair<std::string, std::string>> default_folders;
    bool auto_subscribe = true;
    std::size_t quota_storage = 0;  // bytes; 0: no limit
    unsigned quota_messages = 0;    // 0: no limit
    std::vector<std::string> quota_admins;  // canonical user names that may SETQUOTA
    unsigned open_index_limit = 0;
    std::chrono::milliseconds full_sync_interval{};
    std::chrono::milliseconds commit_delay{};
    bool fsync_always = false;            // [mail] fsync = always: flag changes and expunges flushed too
    std::size_t disk_reserve = 0;         // bytes held back for index writes on a full disk
  } mail;

  struct Lmtp {
    std::string default_domain;          // for bare recipients and local@default_domain users
    std::string subaddress_separator;    // "+" for user+detail; empty: none
    bool subaddress_folders = true;      // deliver user+detail into folder "detail" if it exists
    std::size_t max_message_size = 0;
    unsigned max_recipients = 0;
    unsigned max_errors = 0;             // protocol errors before 421
    std::chrono::milliseconds data_timeout{};
    bool add_return_path = true;
    bool add_delivered_to = true;
    bool add_received = true;
    bool quota_full_tempfail = false;    // a full mailbox is 452 4.2.2 (the MTA retries), not 552 5.2.2
  } lmtp;

  struct Imap {
    std::size_t max_message_size = 0;    // APPENDLIMIT (RFC 7889)
    bool literal_minus = false;          // announce LITERAL- instead of LITERAL+ (RFC 7888)
    bool strict_utf8_headers = false;    // refuse 8-bit header fields in APPEND without UTF8=ACCEPT (RFC 6855 §4)
    std::chrono::milliseconds idle_keepalive{};  // "* OK Still here" while in IDLE
    unsigned max_bad_commands = 0;       // BAD replies in a row before the connection is closed
    std::size_t metadata_max_size = 0;   // largest METADATA value (RFC 5464 MAXSIZE)
    unsigned metadata_max_entries = 0;   // METADATA entries per folder and per account
    std::string metadata_admin;          // /shared/admin server entry; empty: none
    unsigned notify_max_mailboxes = 0;   // mailboxes one NOTIFY SET may watch
  } imap;

  struct Pop3 {
    UidlFormat uidl_format;              // UIDL values (uidl_format.hpp)
    bool exclusive_maildrop = true;      // a second session on a maildrop in use: -ERR [IN-USE]
    std::chrono::milliseconds login_delay{};  // LOGIN-DELAY (RFC 2449 §6.8); 0: none
    bool mark_seen = true;               // messages retrieved with RETR get \Seen at QUIT
    unsigned max_bad_commands = 0;       // -ERR replies to bad commands in a row before closing
  } pop3;

  struct Metrics {
    std::optional<ListenAddress> listen;  // empty setting: no metrics listener
  } metrics;

  struct Admin {
    std::filesystem::path socket;
  } admin;

  std::vector<ListenerConfig> listeners;
};

struct ConfigError {
  std::string message;  // "FILE:LINE: what is wrong"
};

// Parses configuration text. `origin` names the file in error messages and
// anchors relative paths.
std::expected<Config, ConfigError> parse_config(std::string_view text,
                                                const std::filesystem::path& origin);

// Reads and parses a file.
std::expected<Config, ConfigError> load_config(const std::filesystem::path& file);

// One documented setting, for docs/configuration.md and its test.
struct SettingInfo {
  std::string_view section;  // "" for top level, "listener" for [listener NAME]
  std::string_view key;
  std::string_view default_value;
  std::string_view description;
};
std::vector<SettingInfo> config_reference();

// A size as settings write it: "4096", "64K", "10M", "1G" (binary
// multiples; KiB/MiB/GiB also accepted).
std::expected<std::size_t, std::string> parse_size(std::string_view text);

std::string_view to_string(LogLevel level);
std::string_view to_string(TlsMode mode);

}  // namespace roost

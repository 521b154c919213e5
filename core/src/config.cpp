#include "roost/core/config.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "roost/core/ascii.hpp"
#include "roost/core/credentials.hpp"

namespace roost {
namespace {

using Apply = std::function<std::expected<void, std::string>(Config&, std::string_view)>;
using ApplyListener =
    std::function<std::expected<void, std::string>(ListenerConfig&, std::string_view)>;

struct Setting {
  SettingInfo info;
  Apply apply;
};

struct ListenerSetting {
  SettingInfo info;
  ApplyListener apply;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    s = trim(s);
    while (!s.empty() && s.front() == ',') s = trim(s.substr(1));
    if (s.empty()) break;
    auto end = s.find_first_of(" \t,");
    out.push_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end);
  }
  return out;
}

std::expected<std::uint64_t, std::string> parse_uint(std::string_view v) {
  std::uint64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size()) {
    return std::unexpected("expected a whole number, got '" + std::string(v) + "'");
  }
  return out;
}

std::expected<bool, std::string> parse_bool(std::string_view v) {
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  return std::unexpected("expected true or false, got '" + std::string(v) + "'");
}

// "250ms", "30s", "5m", "2h", "1d"; a bare number is seconds.
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view v) {
  auto unit_at = v.find_first_not_of("0123456789");
  auto number = parse_uint(v.substr(0, unit_at));
  auto unit = unit_at == std::string_view::npos ? std::string_view("s") : v.substr(unit_at);
  std::uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  if (!number || scale == 0) {
    return std::unexpected("expected a duration such as 500ms, 30s, 5m or 1h, got '" +
                           std::string(v) + "'");
  }
  return std::chrono::milliseconds(*number * scale);
}

template <class T>
Apply set_uint(T Config::*group, unsigned T::*field, unsigned min, unsigned max) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    auto n = parse_uint(v);
    if (!n) return std::unexpected(n.error());
    if (*n < min || *n > max) {
      return std::unexpected("expected a number from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got '" + std::string(v) + "'");
    }
    (c.*group).*field = static_cast<unsigned>(*n);
    return {};
  };
}

template <class T>
Apply set_duration(T Config::*group, std::chrono::milliseconds T::*field) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    auto d = parse_duration(v);
    if (!d) return std::unexpected(d.error());
    (c.*group).*field = *d;
    return {};
  };
}

template <class T>
Apply set_size(T Config::*group, std::size_t T::*field, std::size_t min,
               std::size_t max = std::numeric_limits<std::size_t>::max()) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    auto s = parse_size(v);
    if (!s) return std::unexpected(s.error());
    if (*s < min) {
      return std::unexpected("must be at least " + std::to_string(min) + " bytes");
    }
    if (*s > max) {
      return std::unexpected("must be at most " + std::to_string(max) + " bytes");
    }
    (c.*group).*field = *s;
    return {};
  };
}

template <class T>
Apply set_bool(T Config::*group, bool T::*field) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    auto b = parse_bool(v);
    if (!b) return std::unexpected(b.error());
    (c.*group).*field = *b;
    return {};
  };
}

// A space-separated list of networks in CIDR form.
template <class T>
Apply set_cidrs(T Config::*group, std::vector<Cidr> T::*field) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    std::vector<Cidr> networks;
    for (auto word : split_words(v)) {
      auto cidr = Cidr::parse(word);
      if (!cidr) return std::unexpected(cidr.error());
      networks.push_back(*cidr);
    }
    (c.*group).*field = std::move(networks);
    return {};
  };
}

// Paths are kept as written; resolve_paths() anchors relative ones afterwards.
template <class T>
Apply set_path(T Config::*group, std::filesystem::path T::*field) {
  return [=](Config& c, std::string_view v) -> std::expected<void, std::string> {
    (c.*group).*field = std::filesystem::path(std::string(v));
    return {};
  };
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {{"", "data_dir", "/var/lib/roost",
        "Mail, indexes and the user database live below this folder."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v.empty()) return std::unexpected("must not be empty");
         c.data_dir = std::string(v);
         return {};
       }},
      {{"", "run_dir", "/run/roost", "Runtime files: the admin socket and the pid file."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v.empty()) return std::unexpected("must not be empty");
         c.run_dir = std::string(v);
         return {};
       }},

      {{"server", "user", "",
        "Started as root, roostd binds its listeners and reads the TLS key, then runs as this user "
        "(its data_dir and run_dir must belong to it). Empty: it stays who started it."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.server.user = std::string(v);
         return {};
       }},
      {{"server", "group", "", "The group to run as with user; empty: the user's primary group."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.server.group = std::string(v);
         return {};
       }},
      {{"server", "run_as_root", "false",
        "Let roostd keep running as root when no user is given. Without it, roostd started as root "
        "with no user refuses to start."},
       set_bool(&Config::server, &Config::Server::run_as_root)},

      {{"log", "level", "info", "Least severe level written: debug, info, warning or error."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v == "debug") c.log.level = LogLevel::debug;
         else if (v == "info") c.log.level = LogLevel::info;
         else if (v == "warning") c.log.level = LogLevel::warning;
         else if (v == "error") c.log.level = LogLevel::error;
         else return std::unexpected("expected debug, info, warning or error, got '" +
                                     std::string(v) + "'");
         return {};
       }},
      {{"log", "syslog", "false", "Also send every line to syslog (facility mail)."},
       set_bool(&Config::log, &Config::Log::syslog)},

      {{"runtime", "io_threads", "0",
        "Threads running network I/O, each with its own event loop; 0 means one per core."},
       set_uint(&Config::runtime, &Config::Runtime::io_threads, 0, 256)},
      {{"runtime", "blocking_threads", "4",
        "Threads for work that may block: fsync, index writes, large file reads."},
       set_uint(&Config::runtime, &Config::Runtime::blocking_threads, 1, 256)},
      {{"runtime", "auth_threads", "2",
        "Threads for SASL and password hashing, kept apart so logins cannot starve mail."},
       set_uint(&Config::runtime, &Config::Runtime::auth_threads, 1, 64)},
      {{"runtime", "shutdown_timeout", "10s",
        "On SIGTERM, how long in-flight commands may run before connections are closed."},
       set_duration(&Config::runtime, &Config::Runtime::shutdown_timeout)},

      {{"limits", "max_connections", "20000", "Connections open at once, all services together."},
       set_uint(&Config::limits, &Config::Limits::max_connections, 1, 10'000'000)},
      {{"limits", "max_connections_per_ip", "50",
        "Connections open at once from one client address (after PROXY protocol)."},
       set_uint(&Config::limits, &Config::Limits::max_connections_per_ip, 1, 10'000'000)},
      {{"limits", "max_line_length", "64K",
        "Longest protocol line a client may send; longer lines get a protocol error."},
       set_size(&Config::limits, &Config::Limits::max_line_length, 512)},
      {{"limits", "max_output_buffer", "1M",
        "Reply bytes buffered for a client that is not reading before it is disconnected."},
       set_size(&Config::limits, &Config::Limits::max_output_buffer, 4096)},
      {{"limits", "write_timeout", "60s",
        "Time a client may take to accept a reply before it is disconnected."},
       set_duration(&Config::limits, &Config::Limits::write_timeout)},
      {{"limits", "login_timeout", "60s", "Time allowed to a connection before it logs in, counted from when it connects, whatever it sends meanwhile."},
       set_duration(&Config::limits, &Config::Limits::login_timeout)},
      {{"limits", "idle_timeout", "30m",
        "Time a logged-in connection may stay silent (IMAP IDLE renews it)."},
       set_duration(&Config::limits, &Config::Limits::idle_timeout)},

      {{"tls", "certificate", "", "PEM certificate chain; required by any TLS listener."},
       set_path(&Config::tls, &Config::Tls::certificate)},
      {{"tls", "key", "", "PEM private key for the certificate."},
       set_path(&Config::tls, &Config::Tls::key)},
      {{"tls", "min_version", "1.2", "Oldest TLS version accepted: 1.2 or 1.3."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v != "1.2" && v != "1.3") {
           return std::unexpected("expected 1.2 or 1.3, got '" + std::string(v) + "'");
         }
         c.tls.min_version = std::string(v);
         return {};
       }},
      {{"tls", "ciphers", "", "OpenSSL cipher list for TLS 1.2; empty keeps OpenSSL's default."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.tls.ciphers = std::string(v);
         return {};
       }},

      {{"auth", "user_db", "users",
        "The user database (an LMDB folder): the directory when [directory] engine = lmdb, and what "
        "roostctl directory migrate copies into PostgreSQL; relative to data_dir."},
       set_path(&Config::auth, &Config::Auth::user_db)},
      {{"auth", "mechanisms", "PLAIN LOGIN SCRAM-SHA-256",
        "SASL mechanisms offered (PLAIN, LOGIN, SCRAM-SHA-256, SCRAM-SHA-1). SCRAM-SHA-1 also stores a "
        "SHA-1 verifier for each password set while it is listed (docs/security.md)."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         static constexpr std::string_view known[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256",
                                                      "SCRAM-SHA-1"};
         c.auth.mechanisms.clear();
         for (auto word : split_words(v)) {
           const std::string upper = ascii_uppercase(word);
           if (std::ranges::find(known, upper) == std::end(known)) {
             return std::unexpected("unsupported mechanism '" + std::string(word) +
                                    "' (supported: PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1)");
           }
           c.auth.mechanisms.push_back(upper);
         }
         if (c.auth.mechanisms.empty()) return std::unexpected("name at least one mechanism");
         return {};
       }},
      {{"auth", "allow_plaintext_loopback", "false",
        "Allow PLAIN, LOGIN and USER/PASS without TLS when the client is on loopback."},
       set_bool(&Config::auth, &Config::Auth::allow_plaintext_loopback)},
      {{"auth", "channel_binding", "false",
        "Offer SCRAM-*-PLUS under TLS 1.3 (tls-exporter, RFC 9266). Off by default: mutt and other clients "
        "built on Cyrus SASL choose -PLUS when it is offered and then fail without channel binding data."},
       set_bool(&Config::auth, &Config::Auth::channel_binding)},
      {{"auth", "scram_iterations", "10000",
        "PBKDF2 iterations of the SCRAM verifiers of passwords set from now on (at least 4096, RFC 5802); "
        "more makes a stolen user database dearer to attack, and each SCRAM login dearer to the client."},
       set_uint(&Config::auth, &Config::Auth::scram_iterations, 4096, 10000000)},
      {{"auth", "max_concurrent_per_ip", "4",
        "Authentications in progress at once from one client address."},
       set_uint(&Config::auth, &Config::Auth::max_concurrent_per_ip, 1, 10'000)},
      {{"auth", "trusted_networks", "",
        "Networks (CIDR, space separated) whose logins max_concurrent_per_ip does not limit: a webmail or "
        "proxy host logs many users in from one address. Failed logins are slowed down there too."},
       set_cidrs(&Config::auth, &Config::Auth::trusted_networks)},
      {{"auth", "timeout", "60s", "Time allowed for one whole SASL exchange."},
       set_duration(&Config::auth, &Config::Auth::timeout)},
      {{"auth", "failure_delay", "500ms",
        "Delay before answering a failed login; doubles with each recent failure."},
       set_duration(&Config::auth, &Config::Auth::failure_delay)},
      {{"auth", "failure_delay_max", "15s", "The longest delay a failed login gets."},
       set_duration(&Config::auth, &Config::Auth::failure_delay_max)},
      {{"auth", "failure_window", "15m",
        "How long a failure counts toward the delay of an address or user."},
       set_duration(&Config::auth, &Config::Auth::failure_window)},

      {{"auth", "cache_ttl", "5m",
        "How long a successful PLAIN, LOGIN or USER/PASS verification is remembered, so that a webmail logging "
        "in on every page view costs a look-up instead of a yescrypt hash. Kept per user with a keyed hash of the "
        "password (never the password) and the stored hash it matched: a changed password misses at once. "
        "Failures are never remembered. 0 turns it off."},
       set_duration(&Config::auth, &Config::Auth::cache_ttl)},
      {{"auth", "cache_size", "100000",
        "Users whose last verification the authentication cache keeps at most (about 200 bytes each)."},
       set_uint(&Config::auth, &Config::Auth::cache_size, 0, 100000000)},

      {{"directory", "engine", "lmdb",
        "Where users, their credentials and their shards are kept: lmdb (the user_db folder of [auth], one "
        "machine) or postgresql (conninfo; more than one machine, docs/directory.md)."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v != "lmdb" && v != "postgresql") return std::unexpected("expected lmdb or postgresql");
         c.directory.engine = std::string(v);
         return {};
       }},
      {{"directory", "conninfo", "",
        "The PostgreSQL connection string (libpq: \"host=db1 port=5432 dbname=roost user=roost\"; a password "
        "belongs in ~/.pgpass or PGPASSFILE, not here). Never written to the log."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.directory.conninfo = std::string(v);
         return {};
       }},
      {{"directory", "shard", "",
        "The id of the shard this node is (roostctl directory shard add): it serves users whose route names it, "
        "and users with no shard. A user routed to another shard, or being moved, gets a temporary error at login."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.directory.shard = std::string(v);
         return {};
       }},
      {{"directory", "cache_ttl", "10s",
        "How long a process remembers a user looked up in PostgreSQL; a change any writer makes drops the entry at "
        "once (NOTIFY), so this only bounds staleness while notifications are down."},
       set_duration(&Config::directory, &Config::Directory::cache_ttl)},
      {{"directory", "cache_stale", "15m",
        "How much longer a remembered user is served while PostgreSQL cannot be reached: users who logged in lately "
        "keep logging in through an outage; others get a temporary error."},
       set_duration(&Config::directory, &Config::Directory::cache_stale)},
      {{"directory", "cache_size", "1000000",
        "Users a process remembers at most (about 600 bytes each)."},
       set_uint(&Config::directory, &Config::Directory::cache_size, 1, 100000000)},
      {{"directory", "pool_size", "4",
        "PostgreSQL connections each process keeps for look-ups (one more listens for changes)."},
       set_uint(&Config::directory, &Config::Directory::pool_size, 1, 256)},

      {{"proxy_protocol", "trusted_networks", "",
        "Networks (CIDR, space separated) allowed to send a PROXY protocol header."},
       set_cidrs(&Config::proxy, &Config::Proxy::trusted_networks)},
      {{"proxy_protocol", "header_timeout", "5s", "Time allowed for the PROXY header to arrive."},
       set_duration(&Config::proxy, &Config::Proxy::header_timeout)},

      {{"mail", "mail_dir", "mail", "Users' maildirs live in mail_dir/USER; relative to data_dir."},
       set_path(&Config::mail, &Config::Mail::mail_dir)},
      {{"mail", "host_name", "",
        "Host name written into new message file names; empty means the system's host name."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.mail.host_name = std::string(v);
         return {};
       }},
      {{"mail", "default_folders", "Drafts:\\Drafts, Sent:\\Sent, Trash:\\Trash, Junk:\\Junk, Archive:\\Archive",
        "Folders created at a user's first login, comma-separated, each NAME or NAME:\\Use "
        "(\\Drafts \\Sent \\Trash \\Junk \\Archive \\All \\Flagged)."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         static constexpr std::string_view uses[] = {"\\Drafts", "\\Sent", "\\Trash", "\\Junk",
                                                     "\\Archive", "\\All", "\\Flagged"};
         c.mail.default_folders.clear();
         auto trim = [](std::string_view t) {
           while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
           while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
           return t;
         };
         std::size_t start = 0;
         while (start <= v.size()) {
           std::size_t comma = v.find(',', start);
           std::string_view item = trim(v.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                           : comma - start));
           start = comma == std::string_view::npos ? v.size() + 1 : comma + 1;
           if (item.empty()) continue;
           std::string_view name = item, use;
           if (std::size_t colon = item.rfind(':'); colon != std::string_view::npos) {
             name = trim(item.substr(0, colon));
             use = trim(item.substr(colon + 1));
             if (std::ranges::find(uses, use) == std::end(uses))
               return std::unexpected("unknown special use '" + std::string(use) + "'");
           }
           if (name.empty()) return std::unexpected("empty folder name in '" + std::string(item) + "'");
           c.mail.default_folders.emplace_back(std::string(name), std::string(use));
         }
         return {};
       }},
      {{"mail", "auto_subscribe", "true", "Subscribe users to INBOX and the default folders at their first login."},
       set_bool(&Config::mail, &Config::Mail::auto_subscribe)},
      {{"mail", "quota_storage", "0",
        "Storage each user may use, all folders together (K, M, G); 0 means no limit."},
       set_size(&Config::mail, &Config::Mail::quota_storage, 0)},
      {{"mail", "quota_messages", "0", "Messages each user may keep, all folders together; 0 means no limit."},
       set_uint(&Config::mail, &Config::Mail::quota_messages, 0, 4000000000u)},
      {{"mail", "quota_admins", "",
        "Users who may read and set any user's quota over IMAP (SETQUOTA, quota root \"#user/NAME\")."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.mail.quota_admins.clear();
         for (auto word : split_words(v)) {
           auto name = canonical_user_name(word);
           if (!name) return std::unexpected("quota admin '" + std::string(word) + "': " + name.error());
           c.mail.quota_admins.push_back(std::move(*name));
         }
         return {};
       }},
      {{"mail", "open_index_limit", "256",
        "Folder indexes no session is using that a process keeps open (each costs 3 file descriptors)."},
       set_uint(&Config::mail, &Config::Mail::open_index_limit, 0, 100000)},
      {{"mail", "full_sync_interval", "10m",
        "How often a folder in use is listed in full, in the background, for changes other programs made without "
        "moving a directory's time (two changes within one clock tick)."},
       set_duration(&Config::mail, &Config::Mail::full_sync_interval)},
      {{"mail", "commit_delay", "25ms",
        "Deliveries to one folder that follow each other within this share one index commit, each still answered "
        "once it is durable; a session of the same process that needs them ends the wait, other processes see them "
        "up to four times this later. 0 commits every delivery at once."},
       set_duration(&Config::mail, &Config::Mail::commit_delay)},
      {{"mail", "fsync", "optimized",
        "optimized: a message is flushed (file, directory, UID list) before LMTP or APPEND answers; flag "
        "changes and expunges are not, so a power loss may undo them (never lose mail), and may leave a message "
        "MOVEd at that moment in both folders. always: STORE and EXPUNGE flush their directories before they "
        "answer too, and MOVE its journal before it copies, like Dovecot's mail_fsync = always."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v != "optimized" && v != "always") return std::unexpected("expected optimized or always");
         c.mail.fsync_always = v == "always";
         return {};
       }},
      {{"mail", "disk_reserve", "64M",
        "Space held back on the mail file system (a file, .roost-reserve, in mail_dir). When the disk is full, "
        "index writes take it back a megabyte at a time, so users can still open folders, flag and expunge mail "
        "to make room; meanwhile deliveries, APPEND and COPY get temporary errors, until the file system has room "
        "for the whole reserve and as much again. 0: no reserve."},
       set_size(&Config::mail, &Config::Mail::disk_reserve, 0)},

      {{"lmtp", "default_domain", "",
        "Domain of bare recipients (RCPT TO:<user>), and the domain whose addresses also match users stored without one."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.lmtp.default_domain = ascii_lowercase(v);
         return {};
       }},
      {{"lmtp", "subaddress_separator", "+",
        "Separates user and detail in user+detail@domain (RFC 5233); empty turns subaddresses off."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v.size() > 1) return std::unexpected("the separator is one character or empty");
         c.lmtp.subaddress_separator = std::string(v);
         return {};
       }},
      {{"lmtp", "subaddress_folders", "true",
        "Deliver user+detail into the user's folder named detail when it exists (else INBOX)."},
       set_bool(&Config::lmtp, &Config::Lmtp::subaddress_folders)},
      {{"lmtp", "max_message_size", "50M", "Largest message accepted (announced as SIZE)."},
       set_size(&Config::lmtp, &Config::Lmtp::max_message_size, 1024)},
      {{"lmtp", "max_recipients", "1000", "Recipients in one transaction; more get 452 4.5.3."},
       set_uint(&Config::lmtp, &Config::Lmtp::max_recipients, 1, 100000)},
      {{"lmtp", "max_errors", "20", "Protocol errors in one connection before it is closed with 421 4.7.0."},
       set_uint(&Config::lmtp, &Config::Lmtp::max_errors, 1, 10000)},
      {{"lmtp", "data_timeout", "10m", "Time allowed for a message's content (DATA or one BDAT chunk) to arrive."},
       set_duration(&Config::lmtp, &Config::Lmtp::data_timeout)},
      {{"lmtp", "add_return_path", "true", "Add a Return-Path field with the envelope sender."},
       set_bool(&Config::lmtp, &Config::Lmtp::add_return_path)},
      {{"lmtp", "add_delivered_to", "true", "Add a Delivered-To field with the recipient."},
       set_bool(&Config::lmtp, &Config::Lmtp::add_delivered_to)},
      {{"lmtp", "add_received", "true", "Add a Received field (RFC 5321 §4.4)."},
       set_bool(&Config::lmtp, &Config::Lmtp::add_received)},
      {{"lmtp", "quota_full_tempfail", "false",
        "Answer mail for a full mailbox with 452 4.2.2, so that the MTA keeps it and retries while the user "
        "makes room, instead of 552 5.2.2, which bounces it."},
       set_bool(&Config::lmtp, &Config::Lmtp::quota_full_tempfail)},

      {{"imap", "max_message_size", "50M", "Largest message APPEND accepts (announced as APPENDLIMIT, RFC 7889)."},
       set_size(&Config::imap, &Config::Imap::max_message_size, 1024)},
      {{"imap", "literal_minus", "false",
        "Announce LITERAL- (non-synchronizing literals up to 4096 bytes) instead of LITERAL+ (RFC 7888)."},
       set_bool(&Config::imap, &Config::Imap::literal_minus)},
      {{"imap", "strict_utf8_headers", "false",
        "Refuse APPEND of a message with raw 8-bit header fields from a client that did not ENABLE UTF8=ACCEPT "
        "(RFC 6855 §4). Off by default: such messages are stored as received, so that migrations (mbsync, "
        "offlineimap) of old mail from broken mailers lose nothing."},
       set_bool(&Config::imap, &Config::Imap::strict_utf8_headers)},
      {{"imap", "idle_keepalive", "2m", "Interval of the \"* OK Still here\" lines sent to a client in IDLE."},
       set_duration(&Config::imap, &Config::Imap::idle_keepalive)},
      {{"imap", "max_bad_commands", "20", "BAD replies in a row before the connection is closed with BYE."},
       set_uint(&Config::imap, &Config::Imap::max_bad_commands, 1, 10000)},
      {{"imap", "metadata_max_size", "64K",
        "Largest METADATA annotation value SETMETADATA accepts (RFC 5464): 1K to 64K, the largest literal outside APPEND."},
       set_size(&Config::imap, &Config::Imap::metadata_max_size, 1024, 64 * 1024)},
      {{"imap", "metadata_max_entries", "100",
        "METADATA annotations per folder, and on the account as a whole (RFC 5464; at least 10)."},
       set_uint(&Config::imap, &Config::Imap::metadata_max_entries, 10, 100000)},
      {{"imap", "notify_max_mailboxes", "1000",
        "Mailboxes one NOTIFY SET may watch (RFC 5465); more are refused with NO [NOTIFICATIONOVERFLOW]."},
       set_uint(&Config::imap, &Config::Imap::notify_max_mailboxes, 1, 100000)},
      {{"imap", "metadata_admin", "",
        "The read-only /shared/admin server annotation (RFC 5464 §3.2.1.1): a URI to reach the "
        "administrator, such as mailto:postmaster@example.org; empty: none."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         c.imap.metadata_admin = std::string(v);
         return {};
       }},

      {{"pop3", "uidl_format", "%08Xu%08Xv",
        "POP3 UIDL template: %u UID, %v UIDVALIDITY, %f maildir file name, with width and 0 as in printf and X for lower-case hexadecimal, as Dovecot writes it; Dovecot's default."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         auto format = UidlFormat::parse(v);
         if (!format) return std::unexpected(format.error());
         c.pop3.uidl_format = std::move(*format);
         return {};
       }},
      {{"pop3", "exclusive_maildrop", "true",
        "A second POP3 session on a maildrop in use is refused with -ERR [IN-USE] (RFC 2449 §8.1.1)."},
       set_bool(&Config::pop3, &Config::Pop3::exclusive_maildrop)},
      {{"pop3", "login_delay", "0s",
        "Least time between two POP3 logins of one user (LOGIN-DELAY, RFC 2449 §6.8); 0 allows any."},
       set_duration(&Config::pop3, &Config::Pop3::login_delay)},
      {{"pop3", "mark_seen", "true", "Messages retrieved with RETR get the \\Seen flag when the session ends with QUIT."},
       set_bool(&Config::pop3, &Config::Pop3::mark_seen)},
      {{"pop3", "max_bad_commands", "20", "-ERR replies to invalid commands in a row before the connection is closed."},
       set_uint(&Config::pop3, &Config::Pop3::max_bad_commands, 1, 10000)},

      {{"metrics", "listen", "",
        "HTTP listener for Prometheus metrics, such as 127.0.0.1:9100; empty disables it."},
       [](Config& c, std::string_view v) -> std::expected<void, std::string> {
         if (v.empty()) {
           c.metrics.listen.reset();
           return {};
         }
         auto address = ListenAddress::parse(v);
         if (!address) return std::unexpected(address.error());
         c.metrics.listen = *address;
         return {};
       }},

      {{"admin", "socket", "admin.sock",
        "UNIX socket for roostctl's live commands; relative to run_dir."},
       set_path(&Config::admin, &Config::Admin::socket)},
  };
  return table;
}

const std::vector<ListenerSetting>& listener_settings() {
  static const std::vector<ListenerSetting> table = {
      {{"listener", "service", "(required)", "The protocol served: imap, pop3, lmtp or socketmap (Postfix transport look-ups from the directory, docs/directory.md)."},
       [](ListenerConfig& l, std::string_view v) -> std::expected<void, std::string> {
         if (v.empty()) return std::unexpected("must not be empty");
         l.service = std::string(v);
         return {};
       }},
      {{"listener", "address", "(required)",
        "Where to listen: 127.0.0.1:143, [::1]:143, *:143 or unix:/path."},
       [](ListenerConfig& l, std::string_view v) -> std::expected<void, std::string> {
         auto address = ListenAddress::parse(v);
         if (!address) return std::unexpected(address.error());
         l.address = *address;
         return {};
       }},
      {{"listener", "tls", "none",
        "none, starttls (plaintext with an upgrade command) or implicit (TLS from the first byte)."},
       [](ListenerConfig& l, std::string_view v) -> std::expected<void, std::string> {
         if (v == "none") l.tls = TlsMode::none;
         else if (v == "starttls") l.tls = TlsMode::starttls;
         else if (v == "implicit") l.tls = TlsMode::implicit;
         else return std::unexpected("expected none, starttls or implicit, got '" +
                                     std::string(v) + "'");
         return {};
       }},
      {{"listener", "proxy_protocol", "false",
        "Expect a HAProxy PROXY v1 or v2 header from trusted networks before anything else."},
       [](ListenerConfig& l, std::string_view v) -> std::expected<void, std::string> {
         auto b = parse_bool(v);
         if (!b) return std::unexpected(b.error());
         l.proxy_protocol = *b;
         return {};
       }},
      {{"listener", "socket_mode", "0660", "Permissions of a UNIX socket, in octal."},
       [](ListenerConfig& l, std::string_view v) -> std::expected<void, std::string> {
         unsigned mode = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mode, 8);
         if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || mode > 0777) {
           return std::unexpected("expected an octal mode such as 0660, got '" + std::string(v) +
                                  "'");
         }
         l.socket_mode = mode;
         return {};
       }},
  };
  return table;
}

std::filesystem::path anchor(const std::filesystem::path& base, const std::filesystem::path& p) {
  if (p.empty() || p.is_absolute()) return p;
  return base / p;
}

}  // namespace

// "4096", "64K", "10M", "1G" (binary multiples; KiB/MiB/GiB also accepted).
std::expected<std::size_t, std::string> parse_size(std::string_view v) {
  auto unit_at = v.find_first_not_of("0123456789");
  auto number = parse_uint(v.substr(0, unit_at));
  auto unit = unit_at == std::string_view::npos ? std::string_view("") : v.substr(unit_at);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "KiB") scale = 1ull << 10;
  else if (unit == "M" || unit == "MiB") scale = 1ull << 20;
  else if (unit == "G" || unit == "GiB") scale = 1ull << 30;
  if (!number || scale == 0 || *number > SIZE_MAX / scale) {
    return std::unexpected("expected a size such as 65536, 64K, 10M or 1G, got '" +
                           std::string(v) + "'");
  }
  return *number * scale;
}

std::expected<Config, ConfigError> parse_config(std::string_view text,
                                                const std::filesystem::path& origin) {
  Config config;
  config.file = origin;
  for (const auto& s : settings()) {
    auto applied = s.apply(config, s.info.default_value);
    if (!applied) {
      return std::unexpected(ConfigError{"built-in default for '" + std::string(s.info.key) +
                                         "': " + applied.error()});
    }
  }

  const std::string file_name = origin.string();
  auto error = [&](std::size_t line, const std::string& what) {
    return std::unexpected(ConfigError{file_name + ":" + std::to_string(line) + ": " + what});
  };

  std::string section;
  ListenerConfig* listener = nullptr;
  std::vector<std::pair<std::string, std::size_t>> seen;  // "section.key" and its line
  std::vector<std::size_t> listener_lines;

  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto eol = text.find('\n', pos);
    auto raw = text.substr(pos, eol == std::string_view::npos ? text.size() - pos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() + 1 : eol + 1;
    ++line_no;
    auto line = trim(raw);
    if (line.empty() || line.front() == '#') continue;

    if (line.front() == '[') {
      if (line.back() != ']') return error(line_no, "section header must end with ']'");
      auto words = split_words(line.substr(1, line.size() - 2));
      if (words.empty()) return error(line_no, "empty section name");
      std::string name(words[0]);
      if (name == "listener") {
        if (words.size() != 2) return error(line_no, "expected [listener NAME]");
        for (const auto& l : config.listeners) {
          if (l.name == words[1]) {
            return error(line_no, "listener '" + std::string(words[1]) + "' is defined twice");
          }
        }
        config.listeners.push_back(ListenerConfig{.name = std::string(words[1])});
        listener_lines.push_back(line_no);
        listener = &config.listeners.back();
        section = "listener " + std::string(words[1]);
        continue;
      }
      if (words.size() != 1) return error(line_no, "unexpected words after [" + name + "]");
      bool known = std::ranges::any_of(settings(), [&](const Setting& s) {
        return !s.info.section.empty() && s.info.section == name;
      });
      if (!known) return error(line_no, "unknown section [" + name + "]");
      section = name;
      listener = nullptr;
      continue;
    }

    auto eq = line.find('=');
    if (eq == std::string_view::npos) return error(line_no, "expected 'key = value'");
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (key.empty()) return error(line_no, "missing key before '='");

    std::string full_key = section + "." + std::string(key);
    for (const auto& [k, first_line] : seen) {
      if (k == full_key) {
        return error(line_no, "'" + std::string(key) + "' is set twice (first on line " +
                                  std::to_string(first_line) + ")");
      }
    }
    seen.emplace_back(full_key, line_no);

    std::string where = section.empty() ? "at top level" : "in [" + section + "]";
    if (listener != nullptr) {
      auto it = std::ranges::find_if(listener_settings(),
                                     [&](const ListenerSetting& s) { return s.info.key == key; });
      if (it == listener_settings().end()) {
        return error(line_no, "unknown key '" + std::string(key) + "' " + where);
      }
      if (auto applied = it->apply(*listener, value); !applied) {
        return error(line_no, "bad value for '" + std::string(key) + "': " + applied.error());
      }
      continue;
    }
    auto it = std::ranges::find_if(settings(), [&](const Setting& s) {
      return s.info.section == section && s.info.key == key;
    });
    if (it == settings().end()) {
      return error(line_no, "unknown key '" + std::string(key) + "' " + where);
    }
    if (auto applied = it->apply(config, value); !applied) {
      return error(line_no, "bad value for '" + std::string(key) + "': " + applied.error());
    }
  }

  bool any_tls = false;
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& l = config.listeners[i];
    if (l.service.empty()) {
      return error(listener_lines[i], "listener '" + l.name + "' has no service");
    }
    if (l.address.port == 0 && l.address.kind == ListenAddress::Kind::tcp) {
      return error(listener_lines[i], "listener '" + l.name + "' has no address");
    }
    any_tls = any_tls || l.tls != TlsMode::none;
  }
  if (any_tls && (config.tls.certificate.empty() || config.tls.key.empty())) {
    return error(line_no, "a listener uses TLS but [tls] certificate or key is not set");
  }
  if (config.auth.failure_delay_max < config.auth.failure_delay) {
    return error(line_no, "[auth] failure_delay_max is shorter than failure_delay");
  }
  if (config.directory.engine == "postgresql" && config.directory.conninfo.empty()) {
    return error(line_no, "[directory] engine = postgresql needs conninfo");
  }

  auto base = origin.has_parent_path() ? origin.parent_path() : std::filesystem::path(".");
  config.data_dir = anchor(base, config.data_dir);
  config.run_dir = anchor(base, config.run_dir);
  config.tls.certificate = anchor(base, config.tls.certificate);
  config.tls.key = anchor(base, config.tls.key);
  config.auth.user_db = anchor(config.data_dir, config.auth.user_db);
  config.mail.mail_dir = anchor(config.data_dir, config.mail.mail_dir);
  config.admin.socket = anchor(config.run_dir, config.admin.socket);
  for (auto& l : config.listeners) {
    if (l.address.kind == ListenAddress::Kind::unix_socket) {
      l.address.path = anchor(config.run_dir, l.address.path).string();
    }
  }
  return config;
}

std::expected<Config, ConfigError> load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected(ConfigError{file.string() + ": cannot open the file"});
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::unexpected(ConfigError{file.string() + ": cannot read the file"});
  return parse_config(text.str(), std::filesystem::absolute(file));
}

std::vector<SettingInfo> config_reference() {
  std::vector<SettingInfo> out;
  for (const auto& s : settings()) out.push_back(s.info);
  for (const auto& s : listener_settings()) out.push_back(s.info);
  return out;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
  }
  return "?";
}

std::string_view to_string(TlsMode mode) {
  switch (mode) {
    case TlsMode::none: return "none";
    case TlsMode::starttls: return "starttls";
    case TlsMode::implicit: return "implicit";
  }
  return "?";
}

}  // namespace roost

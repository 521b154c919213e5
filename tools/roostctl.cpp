// roostctl: the admin command.
//   roostctl init DIR [--port-base N]
//   roostctl --config FILE user add|passwd NAME [--password-stdin]
//   roostctl --config FILE user del NAME
//   roostctl --config FILE user list
//   roostctl --config FILE directory shard|user ...
//   roostctl --config FILE who
//   roostctl --config FILE kick USER
//   roostctl --config FILE index rebuild|verify USER [FOLDER]
//   roostctl --config FILE quota show|reset USER
//   roostctl --config FILE quota set USER [--storage SIZE] [--messages N]
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <charconv>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "instance.hpp"
#include "roost/core/ascii.hpp"
#include "roost/core/config.hpp"
#include "roost/core/credentials.hpp"
#include "roost/directory/directory.hpp"
#include "roost/storage/store_config.hpp"

namespace {

constexpr const char* usage =
    "usage:\n"
    "  roostctl init DIR [--port-base N] [--domain DOMAIN]\n"
    "  roostctl --config FILE user add NAME [--password-stdin] [--shard ID]\n"
    "  roostctl --config FILE user passwd NAME [--password-stdin]\n"
    "  roostctl --config FILE user del NAME\n"
    "  roostctl --config FILE user list\n"
    "  roostctl --config FILE directory shard add ID [--imap HOST:PORT] [--pop3 HOST:PORT] [--lmtp HOST:PORT]\n"
    "                                      [--weight N] [--state up|draining|down]\n"
    "  roostctl --config FILE directory shard set ID [the same options]\n"
    "  roostctl --config FILE directory shard up|down|drain|remove ID\n"
    "  roostctl --config FILE directory shard list\n"
    "  roostctl --config FILE directory init       (PostgreSQL: create the schema)\n"
    "  roostctl --config FILE directory migrate    (copy the embedded user database into PostgreSQL)\n"
    "  roostctl --config FILE directory watch [--count N] [--timeout SECONDS]\n"
    "  roostctl --config FILE directory user where NAME\n"
    "  roostctl --config FILE directory user list [--shard ID]\n"
    "  roostctl --config FILE directory user set NAME [--shard ID] [--state active|moving|disabled]\n"
    "  roostctl --config FILE directory alias add ALIAS USER | del ALIAS | list USER\n"
    "  roostctl --config FILE who\n"
    "  roostctl --config FILE kick USER\n"
    "  roostctl --config FILE index rebuild USER [FOLDER]\n"
    "  roostctl --config FILE index verify USER [FOLDER]\n"
    "  roostctl --config FILE quota show USER\n"
    "  roostctl --config FILE quota set USER [--storage SIZE] [--messages N]\n"
    "  roostctl --config FILE quota reset USER\n";

int fail(const std::string& message, int code = 1) {
  std::cerr << "roostctl: " << message << "\n";
  return code;
}

std::string read_password_line() {
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<std::string> prompt_password() {
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  termios old{};
  tcgetattr(STDIN_FILENO, &old);
  termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::cerr << "Password: " << std::flush;
  std::string first = read_password_line();
  std::cerr << "\nAgain: " << std::flush;
  std::string second = read_password_line();
  std::cerr << "\n";
  tcsetattr(STDIN_FILENO, TCSANOW, &old);
  if (first != second) return std::nullopt;
  return first;
}

// One request to the daemon's admin socket; returns its reply lines.
std::expected<std::vector<std::string>, std::string> admin_request(const roost::Config& config,
                                                                   const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = config.admin.socket.string();
  if (path.size() >= sizeof addr.sun_path) return std::unexpected("admin socket path too long");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    auto err = std::string(std::strerror(errno));
    ::close(fd);
    return std::unexpected("cannot reach roostd at " + path + ": " + err + " (is it running?)");
  }
  std::string out = request + "\n";
  if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
    ::close(fd);
    return std::unexpected("cannot send to roostd");
  }
  std::vector<std::string> lines;
  std::string buffer;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    bool done = false;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      lines.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
      if (lines.back().starts_with("OK") || lines.back().starts_with("ERR")) done = true;
    }
    if (done) break;
  }
  ::close(fd);
  if (lines.empty()) return std::unexpected("no answer from roostd");
  if (lines.back().starts_with("ERR")) return std::unexpected("roostd: " + lines.back());
  return lines;
}

int cmd_init(const std::vector<std::string>& args) {
  if (args.empty()) return fail(std::string("init needs a folder\n") + usage, 2);
  unsigned base = 10000;
  std::string dir;
  // The local domain: this host's name unless told, so that an MTA's
  // user@domain finds its user without an edit ([lmtp] default_domain).
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string domain = host;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--domain" && i + 1 < args.size()) {
      domain = roost::ascii_lowercase(args[++i]);
      const bool valid = !domain.empty() && domain.size() <= 253 &&
                         std::all_of(domain.begin(), domain.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
                         });
      if (!valid) return fail("--domain needs a domain name (letters, digits, '.' and '-')", 2);
    } else if (args[i] == "--port-base" && i + 1 < args.size()) {
      try {
        base = static_cast<unsigned>(std::stoul(args[++i]));
      } catch (...) {
        return fail("--port-base needs a number", 2);
      }
    } else if (dir.empty()) {
      dir = args[i];
    } else {
      return fail("unexpected argument '" + args[i] + "'", 2);
    }
  }
  auto ports = roost::tools::create_instance(dir, base, domain);
  if (!ports) return fail(ports.error());
  auto abs = std::filesystem::absolute(dir);
  std::cout << "Created a Roost instance in " << abs.string() << "\n"
            << "  IMAP     127.0.0.1:" << ports->imap << " (STARTTLS)\n"
            << "  IMAPS    127.0.0.1:" << ports->imaps << "\n"
            << "  POP3     127.0.0.1:" << ports->pop3 << " (STARTTLS)\n"
            << "  POP3S    127.0.0.1:" << ports->pop3s << "\n"
            << "  LMTP     127.0.0.1:" << ports->lmtp << "\n"
            << "  metrics  http://127.0.0.1:" << ports->metrics << "/metrics\n"
            << "Local domain: " << domain << " (mail for user@" << domain
            << " goes to user; [lmtp] default_domain in roost.conf, or init --domain)\n"
            << "Add a user:  roostctl --config " << (abs / "roost.conf").string()
            << " user add NAME\n"
            << "Run it:      roostd --config " << (abs / "roost.conf").string() << "\n";
  return 0;
}

// "--name value" options after the positional arguments; an unknown name or
// a missing value is an error.
std::expected<std::map<std::string, std::string>, std::string> options_of(const std::vector<std::string>& args,
                                                                         std::size_t from,
                                                                         const std::vector<std::string>& known) {
  std::map<std::string, std::string> out;
  for (std::size_t i = from; i < args.size(); i += 2) {
    if (std::find(known.begin(), known.end(), args[i]) == known.end())
      return std::unexpected("unexpected argument '" + args[i] + "'");
    if (i + 1 >= args.size()) return std::unexpected(args[i] + " needs a value");
    out[args[i].substr(2)] = args[i + 1];
  }
  return out;
}

// The shard a new user goes to: the one given, or the one with the most room.
std::expected<std::string, std::string> shard_for_new_user(roost::directory::Directory& dir,
                                                          const std::optional<std::string>& given) {
  auto shards = dir.shards();
  if (!shards) return std::unexpected(shards.error());
  if (given) {
    auto it = std::find_if(shards->begin(), shards->end(), [&](const auto& s) { return s.id == *given; });
    if (it == shards->end()) return std::unexpected("no shard '" + *given + "' (roostctl directory shard list)");
    return *given;
  }
  if (shards->empty()) return std::string();  // one machine: the mail is local
  auto counts = dir.users_per_shard();
  if (!counts) return std::unexpected(counts.error());
  auto chosen = roost::directory::place(*shards, *counts);
  if (!chosen) return std::unexpected("no shard is up to take a new user");
  return *chosen;
}

int cmd_user(const roost::Config& config, const std::vector<std::string>& args) {
  if (args.empty()) return fail(std::string("user needs add, passwd, del or list\n") + usage, 2);
  const auto& verb = args[0];
  auto dir = roost::directory::open_directory(config, verb == "add");
  if (!dir) return fail(dir.error());
  if (verb == "list") {
    auto names = (*dir)->users();
    if (!names) return fail(names.error());
    for (const auto& n : *names) std::cout << n << "\n";
    return 0;
  }
  if (args.size() < 2) return fail("user " + verb + " needs a NAME", 2);
  const auto& name = args[1];
  if (verb == "del") {
    auto removed = (*dir)->remove(name);
    if (!removed) return fail(removed.error());
    return 0;
  }
  if (verb != "add" && verb != "passwd") return fail("unknown user verb '" + verb + "'", 2);
  std::vector<std::string> rest(args.begin() + 2, args.end());
  bool from_stdin = false;
  if (auto it = std::find(rest.begin(), rest.end(), "--password-stdin"); it != rest.end()) {
    from_stdin = true;
    rest.erase(it);
  }
  auto options = options_of(rest, 0, verb == "add" ? std::vector<std::string>{"--shard"} : std::vector<std::string>{});
  if (!options) return fail(options.error(), 2);
  std::optional<std::string> shard;
  if (auto it = options->find("shard"); it != options->end()) shard = it->second;
  std::string placed;
  if (verb == "add") {
    auto chosen = shard_for_new_user(**dir, shard);
    if (!chosen) return fail(chosen.error());
    placed = *chosen;
  }
  std::optional<std::string> password;
  if (from_stdin) {
    password = read_password_line();
  } else {
    password = prompt_password();
    if (!password) return fail("passwords differ, or no terminal (use --password-stdin)");
  }
  // A SCRAM-SHA-1 verifier only while that mechanism is offered: it is the
  // cheapest of the stored verifiers to attack (docs/security.md).
  const auto& mechanisms = config.auth.mechanisms;
  const roost::ScramSettings scram{
      .sha1 = std::find(mechanisms.begin(), mechanisms.end(), "SCRAM-SHA-1") != mechanisms.end(),
      .iterations = config.auth.scram_iterations};
  auto record = roost::make_user_record(name, *password, scram);
  std::fill(password->begin(), password->end(), '\0');
  if (!record) return fail(record.error());
  if (verb == "passwd") {
    auto written = (*dir)->replace_credentials(*record);
    if (!written) return fail(written.error());
    return 0;
  }
  roost::directory::User user;
  user.credentials = std::move(*record);
  user.route.shard = placed;
  auto written = (*dir)->add(user);
  if (!written) return fail(written.error());
  if (!placed.empty()) std::cout << user.credentials.name << " is on shard " << placed << "\n";
  return 0;
}

void print_shard(const roost::directory::Shard& s) {
  std::cout << s.id << "\t" << roost::directory::to_string(s.state) << "\t" << s.weight << "\t"
            << (s.imap.empty() ? "-" : s.imap) << "\t" << (s.pop3.empty() ? "-" : s.pop3) << "\t"
            << (s.lmtp.empty() ? "-" : s.lmtp) << "\n";
}

// Copies every shard and user of the embedded engine ([auth] user_db) into
// PostgreSQL ([directory] conninfo): credentials, routes with their
// generations, quota limits. Users already there are left as they are.
int migrate_directory(const roost::Config& config) {
  namespace d = roost::directory;
  if (config.directory.engine != "postgresql") return fail("[directory] engine is not postgresql: nowhere to migrate");
  auto from = d::open_lmdb(config.auth.user_db, false);
  if (!from) return fail(from.error());
  auto to = d::open_postgresql(config.directory.conninfo, 1);
  if (!to) return fail(to.error());
  auto shards = (*from)->shards();
  if (!shards) return fail(shards.error());
  for (const auto& shard : *shards)
    if (auto put = (*to)->put_shard(shard); !put) return fail(put.error());
  auto names = (*from)->users();
  if (!names) return fail(names.error());
  std::size_t copied = 0, present = 0;
  for (const auto& name : *names) {
    auto user = (*from)->user(name);
    if (!user) return fail(user.error());
    if (!*user) continue;
    auto there = (*to)->user(name);
    if (!there) return fail(there.error());
    if (*there) {
      ++present;
      continue;
    }
    if (auto added = (*to)->add(**user); !added) return fail(added.error());
    ++copied;
    auto aliases = (*from)->aliases(name);
    if (!aliases) return fail(aliases.error());
    for (const auto& alias : *aliases)
      if (auto made = (*to)->add_alias(alias, name); !made) return fail(made.error());
  }
  std::cout << shards->size() << " shards, " << copied << " users copied, " << present << " already there\n";
  return 0;
}

// Prints the directory's changes as they come (PostgreSQL NOTIFY), until
// --count of them or --timeout seconds.
int watch_directory(const roost::Config& config, const std::vector<std::string>& args) {
  namespace d = roost::directory;
  auto options = options_of(args, 1, {"--count", "--timeout"});
  if (!options) return fail(options.error(), 2);
  unsigned count = 0, timeout = 0;
  for (const auto& [key, value] : *options) {
    unsigned& into = key == "count" ? count : timeout;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), into);
    if (ec != std::errc() || end != value.data() + value.size()) return fail("--" + key + ": expected a number", 2);
  }
  auto dir = roost::directory::open_directory(config, false);
  if (!dir) return fail(dir.error());
  std::mutex mutex;
  std::condition_variable changed;
  unsigned seen = 0;
  auto watching = (*dir)->watch([&](const d::Change& change) {
    std::lock_guard lock(mutex);
    if (change.kind == d::Change::Kind::reset) {
      std::cout << "watching" << std::endl;
      return;
    }
    std::cout << (change.kind == d::Change::Kind::user ? "user " : "shard ") << change.key << std::endl;
    ++seen;
    changed.notify_all();
  });
  if (!watching) return fail(watching.error());
  std::unique_lock lock(mutex);
  auto done = [&] { return count > 0 && seen >= count; };
  if (timeout > 0) changed.wait_for(lock, std::chrono::seconds(timeout), done);
  else changed.wait(lock, done);
  return done() || count == 0 ? 0 : 1;
}

// roostctl directory shard ... | user ...: the shards and where users live.
int cmd_directory(const roost::Config& config, const std::vector<std::string>& args) {
  namespace d = roost::directory;
  if (args.size() == 1 && args[0] == "init") {
    if (config.directory.engine != "postgresql") return fail("[directory] engine is not postgresql: nothing to init");
    auto made = d::init_postgresql(config.directory.conninfo);
    if (!made) return fail(made.error());
    return 0;
  }
  if (args.size() == 1 && args[0] == "migrate") return migrate_directory(config);
  if (!args.empty() && args[0] == "watch") return watch_directory(config, args);
  if (args.size() < 2 || (args[0] != "shard" && args[0] != "user" && args[0] != "alias"))
    return fail(std::string("directory needs init, migrate, watch, or shard, user or alias and a verb\n") + usage, 2);
  auto dir = roost::directory::open_directory(config, false);
  if (!dir) return fail(dir.error());
  const std::string& verb = args[1];
  if (args[0] == "alias") {
    if (verb == "add" && args.size() == 4) {
      auto added = (*dir)->add_alias(args[2], args[3]);
      if (!added) return fail(added.error());
      return 0;
    }
    if (verb == "del" && args.size() == 3) {
      auto removed = (*dir)->remove_alias(args[2]);
      if (!removed) return fail(removed.error());
      return 0;
    }
    if (verb == "list" && args.size() == 3) {
      auto names = (*dir)->aliases(args[2]);
      if (!names) return fail(names.error());
      for (const auto& n : *names) std::cout << n << "\n";
      return 0;
    }
    return fail("directory alias add ALIAS USER | del ALIAS | list USER", 2);
  }
  if (args[0] == "shard") {
    if (verb == "list") {
      auto shards = (*dir)->shards();
      if (!shards) return fail(shards.error());
      std::cout << "ID\tSTATE\tWEIGHT\tIMAP\tPOP3\tLMTP\n";
      for (const auto& s : *shards) print_shard(s);
      return 0;
    }
    if (args.size() < 3) return fail("directory shard " + verb + " needs an ID", 2);
    const std::string& id = args[2];
    auto shards = (*dir)->shards();
    if (!shards) return fail(shards.error());
    auto it = std::find_if(shards->begin(), shards->end(), [&](const d::Shard& s) { return s.id == id; });
    if (verb == "remove") {
      auto removed = (*dir)->remove_shard(id);
      if (!removed) return fail(removed.error());
      return 0;
    }
    d::Shard shard;
    if (verb == "add") {
      if (it != shards->end()) return fail("shard " + id + " exists (use directory shard set)");
      shard.id = id;
    } else if (verb == "set" || verb == "up" || verb == "down" || verb == "drain") {
      if (it == shards->end()) return fail("no shard '" + id + "'");
      shard = *it;
    } else {
      return fail("unknown directory shard verb '" + verb + "'", 2);
    }
    if (verb == "up") shard.state = d::ShardState::up;
    if (verb == "down") shard.state = d::ShardState::down;
    if (verb == "drain") shard.state = d::ShardState::draining;
    if (verb == "add" || verb == "set") {
      auto options = options_of(args, 3, {"--imap", "--pop3", "--lmtp", "--weight", "--state"});
      if (!options) return fail(options.error(), 2);
      for (const auto& [key, value] : *options) {
        if (key == "imap") shard.imap = value;
        if (key == "pop3") shard.pop3 = value;
        if (key == "lmtp") shard.lmtp = value;
        if (key == "weight") {
          auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), shard.weight);
          if (ec != std::errc() || end != value.data() + value.size()) return fail("--weight: expected a number", 2);
        }
        if (key == "state") {
          auto state = d::shard_state(value);
          if (!state) return fail("--state: expected up, draining or down", 2);
          shard.state = *state;
        }
      }
    } else if (args.size() > 3) {
      return fail("unexpected argument '" + args[3] + "'", 2);
    }
    auto written = (*dir)->put_shard(shard);
    if (!written) return fail(written.error());
    return 0;
  }
  // user
  if (verb == "list") {
    auto options = options_of(args, 2, {"--shard"});
    if (!options) return fail(options.error(), 2);
    std::optional<std::string_view> shard;
    if (auto it = options->find("shard"); it != options->end()) shard = it->second;
    auto names = (*dir)->users(shard);
    if (!names) return fail(names.error());
    for (const auto& n : *names) std::cout << n << "\n";
    return 0;
  }
  if (args.size() < 3) return fail("directory user " + verb + " needs a NAME", 2);
  auto user = (*dir)->user(args[2]);
  if (!user) return fail(user.error());
  if (!*user) return fail("no user '" + args[2] + "'");
  const d::Route& route = (*user)->route;
  if (verb == "where") {
    if (args.size() > 3) return fail("unexpected argument '" + args[3] + "'", 2);
    std::cout << (route.shard.empty() ? "local" : route.shard) << "\t" << d::to_string(route.state)
              << "\tgeneration " << route.generation << "\n";
    return 0;
  }
  if (verb != "set") return fail("unknown directory user verb '" + verb + "'", 2);
  auto options = options_of(args, 3, {"--shard", "--state"});
  if (!options) return fail(options.error(), 2);
  if (options->empty()) return fail("directory user set needs --shard or --state", 2);
  d::Route changed = route;
  if (auto it = options->find("shard"); it != options->end()) {
    auto shards = (*dir)->shards();
    if (!shards) return fail(shards.error());
    if (std::none_of(shards->begin(), shards->end(), [&](const d::Shard& s) { return s.id == it->second; }))
      return fail("no shard '" + it->second + "' (roostctl directory shard list)");
    changed.shard = it->second;
  }
  if (auto it = options->find("state"); it != options->end()) {
    auto state = d::user_state(it->second);
    if (!state) return fail("--state: expected active, moving or disabled", 2);
    changed.state = *state;
  }
  auto written = (*dir)->set_route(args[2], route.generation, changed);
  if (!written) return fail(written.error());
  if (!*written) return fail("the user's route changed meanwhile: look again and retry");
  std::cout << (*user)->credentials.name << " is on " << (changed.shard.empty() ? "local" : changed.shard) << " ("
            << d::to_string(changed.state) << ", generation " << route.generation + 1 << ")\n";
  return 0;
}

// The daemon's storage settings without its disk reserve: the reserve is
// roostd's (a file roostctl made, perhaps as root, would not be its).
roost::storage::StoreConfig admin_store_config(const roost::Config& config) {
  auto out = roost::storage::store_config(config);
  out.disk_reserve = 0;
  return out;
}

// Rebuilds or checks folder indexes against the maildir and the UID list.
// Without FOLDER: every folder of the user. Exit 1 when verify finds a
// difference or anything fails.
// The mail of a user the user database knows, or the message to fail with.
std::expected<std::unique_ptr<roost::storage::User>, std::string> open_mail(roost::storage::Store& store,
                                                                           const roost::Config& config,
                                                                           std::string_view user_name) {
  auto name = roost::canonical_user_name(user_name);
  if (!name) return std::unexpected(name.error());
  auto known = roost::directory::open_directory(config, false);
  if (!known) return std::unexpected(known.error());
  auto record = (*known)->user(*name);
  if (!record) return std::unexpected(record.error());
  if (!*record) return std::unexpected("no user '" + *name + "'");
  auto user = store.open_user(*name);
  if (!user) return std::unexpected("cannot open the mail of '" + *name + "': " + user.error().detail);
  return std::move(*user);
}

int cmd_index(const roost::Config& config, const std::vector<std::string>& args) {
  if (args.size() < 2 || args.size() > 3 || (args[0] != "rebuild" && args[0] != "verify"))
    return fail(std::string("index needs rebuild or verify, a USER and maybe a FOLDER\n") + usage, 2);
  roost::storage::Store store(admin_store_config(config));
  auto user = open_mail(store, config, args[1]);
  if (!user) return fail(user.error());
  std::vector<std::string> folders;
  if (args.size() == 3) {
    folders.push_back(args[2]);
  } else {
    auto listed = (*user)->list();
    if (!listed) return fail(listed.error().detail);
    for (const auto& f : *listed) folders.push_back(f.name);
  }
  int status = 0;
  for (const auto& folder : folders) {
    if (args[0] == "rebuild") {
      auto rebuilt = (*user)->rebuild_index(folder);
      if (!rebuilt) {
        std::cerr << "roostctl: " << folder << ": " << roost::storage::describe(rebuilt.error().kind) << " ("
                  << rebuilt.error().detail << ")\n";
        status = 1;
        continue;
      }
      auto state = (*user)->status(folder);
      std::cout << folder << ": rebuilt, " << (state ? state->messages : 0) << " messages\n";
    } else {
      auto problems = (*user)->verify_index(folder);
      if (!problems) {
        std::cerr << "roostctl: " << folder << ": " << roost::storage::describe(problems.error().kind) << " ("
                  << problems.error().detail << ")\n";
        status = 1;
        continue;
      }
      if (problems->empty()) std::cout << folder << ": ok\n";
      for (const auto& p : *problems) std::cout << folder << ": " << p << "\n";
      if (!problems->empty()) status = 1;
    }
  }
  return status;
}

void print_quota(const roost::storage::QuotaUsage& usage) {
  auto limit = [](std::uint64_t value) { return value == 0 ? std::string("none") : std::to_string(value); };
  std::cout << "storage: " << usage.bytes << " bytes used, limit " << limit(usage.bytes_limit) << "\n"
            << "messages: " << usage.messages << " used, limit " << limit(usage.messages_limit) << "\n"
            << "limits: " << (usage.own_limits ? "set for this user" : "the configured defaults") << "\n";
}

// The same limits IMAP SETQUOTA sets ([mail] quota_admins), from the shell;
// the daemon sees them at the next delivery or APPEND.
int cmd_quota(const roost::Config& config, const std::vector<std::string>& args) {
  if (args.size() < 2 || (args[0] != "show" && args[0] != "set" && args[0] != "reset") ||
      (args[0] != "set" && args.size() != 2))
    return fail(std::string("quota needs show, set or reset and a USER\n") + usage, 2);
  std::optional<roost::storage::QuotaLimits> limits;
  if (args[0] == "set") {
    limits.emplace();
    for (std::size_t i = 2; i < args.size(); i += 2) {
      if (i + 1 == args.size()) return fail(args[i] + " needs a value", 2);
      if (args[i] == "--storage") {
        auto bytes = roost::parse_size(args[i + 1]);
        if (!bytes) return fail("--storage: " + bytes.error(), 2);
        limits->bytes = *bytes;
      } else if (args[i] == "--messages") {
        const std::string& text = args[i + 1];
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limits->messages);
        if (ec != std::errc() || end != text.data() + text.size())
          return fail("--messages: expected a number, got '" + text + "'", 2);
      } else {
        return fail("unknown option '" + args[i] + "'\n" + usage, 2);
      }
    }
  }
  roost::storage::Store store(admin_store_config(config));
  auto user = open_mail(store, config, args[1]);
  if (!user) return fail(user.error());
  auto usage = args[0] == "show" ? (*user)->quota() : (*user)->set_quota(limits);
  if (!usage) return fail(std::string(roost::storage::describe(usage.error().kind)) + " (" + usage.error().detail + ")");
  print_quota(*usage);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // What roostctl makes (an instance, a user's database entry, an index) is
  // for roostd alone: folders 0700, files 0600.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "init") return cmd_init({args.begin() + 1, args.end()});
  if (args[0] != "--config" || args.size() < 3) return fail(std::string("\n") + usage, 2);
  auto config = roost::load_config(args[1]);
  if (!config) return fail(config.error().message);
  std::vector<std::string> rest(args.begin() + 3, args.end());
  const auto& command = args[2];
  if (command == "user") return cmd_user(*config, rest);
  if (command == "directory") return cmd_directory(*config, rest);
  if (command == "index") return cmd_index(*config, rest);
  if (command == "quota") return cmd_quota(*config, rest);
  if (command == "who") {
    auto lines = admin_request(*config, "WHO");
    if (!lines) return fail(lines.error());
    std::cout << "ID\tSERVICE\tUSER\tREMOTE\tSINCE\tSTATE\n";
    for (std::size_t i = 0; i + 1 < lines->size(); ++i) std::cout << (*lines)[i] << "\n";
    return 0;
  }
  if (command == "kick") {
    if (rest.size() != 1) return fail("kick needs one USER", 2);
    auto user = roost::canonical_user_name(rest[0]);
    if (!user) return fail(user.error(), 2);
    auto lines = admin_request(*config, "KICK " + *user);
    if (!lines) return fail(lines.error());
    std::cout << "sessions ended: " << lines->back().substr(3) << "\n";
    return 0;
  }
  return fail("unknown command '" + command + "'\n" + usage, 2);
}

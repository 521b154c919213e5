#include "daemon.hpp"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <expected>
#include <optional>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "roost/directory/directory.hpp"

namespace roost {
namespace {

constexpr std::string_view usage =
    "usage: roostd --config FILE [--check-config] [--only SERVICE...]\n"
    "  --config FILE     the instance's roost.conf\n"
    "  --check-config    check the file and exit (0 if good)\n"
    "  --only SERVICE    run only the listeners of these services (repeatable)\n";

// Who roostd runs as ([server] user and group), looked up before anything
// is bound so that a wrong name stops it at once.
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

std::expected<std::optional<RunAs>, std::string> run_as(const Config::Server& server) {
  if (::geteuid() != 0) return std::nullopt;  // not root: nothing to give up
  if (server.user.empty()) {
    if (server.run_as_root) return std::nullopt;
    return std::unexpected(
        "refusing to run as root: set [server] user to the user roostd should run as "
        "(or [server] run_as_root = true)");
  }
  std::vector<char> buffer(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(server.user.c_str(), &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr)
    return std::unexpected("[server] user: no such user '" + server.user + "'");
  RunAs out{pw.pw_uid, pw.pw_gid, server.user};
  if (!server.group.empty()) {
    group gr{};
    group* g = nullptr;
    if (::getgrnam_r(server.group.c_str(), &gr, buffer.data(), buffer.size(), &g) != 0 || g == nullptr)
      return std::unexpected("[server] group: no such group '" + server.group + "'");
    out.gid = gr.gr_gid;
  }
  if (out.uid == 0) return std::unexpected("[server] user: '" + server.user + "' is root");
  return out;
}

// Gives up root for good: supplementary groups, group, then user; checked by
// trying to take root back.
std::expected<void, std::string> drop_to(const RunAs& who) {
  if (::initgroups(who.name.c_str(), who.gid) != 0) return std::unexpected(std::string("initgroups: ") + std::strerror(errno));
  if (::setgid(who.gid) != 0) return std::unexpected(std::string("setgid: ") + std::strerror(errno));
  if (::setuid(who.uid) != 0) return std::unexpected(std::string("setuid: ") + std::strerror(errno));
  if (::setuid(0) == 0) return std::unexpected("could take root back after setuid");
  return {};
}

}  // namespace

int daemon_main(int argc, char** argv, std::vector<ServiceFactory> services) {
  std::string config_path;
  bool check_only = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--only" && i + 1 < argc) {
      while (i + 1 < argc && argv[i + 1][0] != '-') only.emplace_back(argv[++i]);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << "roostd: unexpected argument '" << arg << "'\n" << usage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << usage;
    return 2;
  }

  auto loaded = load_config(config_path);
  if (!loaded) {
    std::cerr << "roostd: " << loaded.error().message << "\n";
    return 1;
  }
  if (!only.empty()) {
    std::erase_if(loaded->listeners, [&](const ListenerConfig& l) {
      return std::ranges::find(only, l.service) == only.end();
    });
    if (loaded->listeners.empty()) {
      std::cerr << "roostd: no listener serves the services given with --only\n";
      return 1;
    }
  }
  if (auto known = check_services(*loaded, services); !known) {
    std::cerr << "roostd: " << known.error() << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << "roostd: " << loaded->file.string() << " is valid\n";
    return 0;
  }

  // A client that goes away mid-write must not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  // SIGTERM, SIGINT and SIGHUP are handled by the server's signal_set.

  // Nothing Roost writes is for other local users: folders 0700, files 0600.
  ::umask(077);
  auto config = std::make_shared<const Config>(std::move(*loaded));
  auto who = run_as(config->server);
  if (!who) {
    std::cerr << "roostd: " << who.error() << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(config->run_dir, ec);
  std::filesystem::create_directories(config->data_dir, ec);
  if (*who) {
    // The two top folders are the user's; what is below is made by it.
    for (const auto& dir : {config->run_dir, config->data_dir})
      if (::lchown(dir.c_str(), (*who)->uid, (*who)->gid) != 0)
        std::cerr << "roostd: cannot give " << dir.string() << " to " << (*who)->name << ": " << std::strerror(errno) << "\n";
  }

  auto directory = directory::open_directory(*config, true);
  if (!directory) {
    std::cerr << "roostd: the user directory: " << directory.error() << "\n";
    return 1;
  }
  Server server(config, std::move(services), std::shared_ptr<const CredentialSource>(std::move(*directory)));
  if (auto started = server.start(); !started) {
    std::cerr << "roostd: " << started.error() << "\n";
    return 1;
  }
  // Listeners bound and the key read: root is needed no longer.
  if (*who) {
    if (auto dropped = drop_to(**who); !dropped) {
      std::cerr << "roostd: cannot run as " << (*who)->name << ": " << dropped.error() << "\n";
      return 1;
    }
  }
  auto pid_file = config->run_dir / "roostd.pid";
  std::ofstream(pid_file) << ::getpid() << "\n";
  log::info({}, "started", {{"pid", ::getpid()}, {"config", config->file.string()}});
  server.run();
  std::filesystem::remove(pid_file, ec);
  return 0;
}

}  // namespace roost

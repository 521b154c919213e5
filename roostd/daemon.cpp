#include "daemon.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string_view>

namespace roost {
namespace {

constexpr std::string_view usage =
    "usage: roostd --config FILE [--check-config] [--only SERVICE...]\n"
    "  --config FILE     the instance's roost.conf\n"
    "  --check-config    check the file and exit (0 if good)\n"
    "  --only SERVICE    run only the listeners of these services (repeatable)\n";

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

  auto config = std::make_shared<const Config>(std::move(*loaded));
  std::error_code ec;
  std::filesystem::create_directories(config->run_dir, ec);
  std::filesystem::create_directories(config->data_dir, ec);

  Server server(config, std::move(services));
  if (auto started = server.start(); !started) {
    std::cerr << "roostd: " << started.error() << "\n";
    return 1;
  }
  auto pid_file = config->run_dir / "roostd.pid";
  std::ofstream(pid_file) << ::getpid() << "\n";
  log::info({}, "started", {{"pid", ::getpid()}, {"config", config->file.string()}});
  server.run();
  std::filesystem::remove(pid_file, ec);
  return 0;
}

}  // namespace roost

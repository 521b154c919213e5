#include "roost/core/metrics.hpp"

#include <cassert>

namespace roost {

void Metrics::declare(std::string_view family, Kind kind, std::string_view help) {
  std::lock_guard lock(mutex_);
  auto& f = families_[std::string(family)];
  f.kind = kind;
  f.help = std::string(help);
}

std::atomic<std::int64_t>& Metrics::series(std::string_view family, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(family);
  assert(it != families_.end() && "metric family not declared");
  if (it == families_.end()) it = families_.emplace(std::string(family), Family{}).first;
  auto& slot = it->second.series[labels];
  if (!slot) slot = std::make_unique<std::atomic<std::int64_t>>(0);
  return *slot;
}

namespace {
void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}
}  // namespace

void Metrics::add_collector(std::function<void(Metrics&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  // Collectors update series, which takes the lock: run them outside it.
  for (const auto& collect : collectors) collect(*this);
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + (family.kind == Kind::counter ? " counter\n" : " gauge\n");
    for (const auto& [labels, value] : family.series) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : labels) {
          if (!first) out += ',';
          first = false;
          out += k + "=\"";
          append_escaped(out, v);
          out += '"';
        }
        out += '}';
      }
      out += ' ' + std::to_string(value->load(std::memory_order_relaxed)) + '\n';
    }
  }
  return out;
}

void declare_standard_metrics(Metrics& m) {
  using K = Metrics::Kind;
  m.declare("roost_connections_total", K::counter, "Connections accepted, by service.");
  m.declare("roost_connections_refused_total", K::counter,
            "Connections refused at once, by service and reason.");
  m.declare("roost_connections", K::gauge, "Connections open now, by service.");
  m.declare("roost_commands_total", K::counter, "Protocol commands handled, by service.");
  m.declare("roost_authentications_total", K::counter,
            "Authentication attempts, by service, mechanism and result.");
  m.declare("roost_deliveries_total", K::counter, "Messages delivered, by result.");
  m.declare("roost_auth_cache_hits_total", K::counter,
            "Password logins answered by the authentication cache ([auth] cache_ttl) without a hash.");
  m.declare("roost_bytes_received_total", K::counter, "Bytes received from clients, by service.");
  m.declare("roost_bytes_sent_total", K::counter, "Bytes sent to clients, by service.");
  m.declare("roost_tls_handshakes_total", K::counter, "TLS handshakes, by service and result.");
  m.declare("roost_folder_scans_total", K::counter,
            "Full folder synchronisations (directory scans): after changes by other programs, every "
            "ten minutes per folder in use, and after a damaged index.");
  m.declare("roost_index_commits_total", K::counter,
            "Folder index transactions that committed delivered or appended messages; deliveries that follow "
            "each other closely share one ([mail] commit_delay).");
}

}  // namespace roost

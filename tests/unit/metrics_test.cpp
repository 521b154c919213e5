#include "roost/core/metrics.hpp"

#include <gtest/gtest.h>

namespace roost {
namespace {

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.declare("roost_connections_total", Metrics::Kind::counter, "Connections accepted.");
  m.declare("roost_connections", Metrics::Kind::gauge, "Open connections.");
  m.add("roost_connections_total", {{"service", "imap"}});
  m.add("roost_connections_total", {{"service", "imap"}}, 2);
  m.add("roost_connections_total", {{"service", "po\"p"}});
  m.series("roost_connections", {{"service", "imap"}}).store(7);
  EXPECT_EQ(m.render(),
            "# HELP roost_connections Open connections.\n"
            "# TYPE roost_connections gauge\n"
            "roost_connections{service=\"imap\"} 7\n"
            "# HELP roost_connections_total Connections accepted.\n"
            "# TYPE roost_connections_total counter\n"
            "roost_connections_total{service=\"imap\"} 3\n"
            "roost_connections_total{service=\"po\\\"p\"} 1\n");
}

TEST(Metrics, CollectorsRunAtEachRender) {
  Metrics m;
  m.declare("roost_folder_scans_total", Metrics::Kind::counter, "Scans.");
  int kept = 4;
  m.add_collector([&](Metrics& metrics) { metrics.series("roost_folder_scans_total").store(kept); });
  EXPECT_NE(m.render().find("roost_folder_scans_total 4\n"), std::string::npos);
  kept = 9;
  EXPECT_NE(m.render().find("roost_folder_scans_total 9\n"), std::string::npos);
}

}  // namespace
}  // namespace roost

// Services every roostd runs besides the protocols: the admin socket that
// roostctl talks to, and the Prometheus metrics endpoint.
#pragma once

#include "roost/core/server.hpp"

namespace roost {

// Line protocol on a UNIX socket (mode 0600, in run_dir):
//   WHO          one line per session: id service user remote since state
//                (tab separated, empty user as "-"), then "OK <count>"
//   KICK <user>  ends that user's sessions: "OK <count>"
//   PING         "OK pong"
// Anything else: "ERR <reason>".
ServiceFactory admin_service_factory();

// HTTP/1.1 GET /metrics in the Prometheus text format; one request per
// connection.
ServiceFactory metrics_service_factory();

}  // namespace roost

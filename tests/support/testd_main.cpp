// roost-testd: roostd with the test service registered beside the real
// services, so that tests can drive the daemon's insides (failure points).
#include "daemon.hpp"
#include "roost/lmtpd/lmtp_service.hpp"
#include "test_service.hpp"

int main(int argc, char** argv) {
  return roost::daemon_main(argc, argv, {roost::testing::test_service_factory(), roost::lmtp::service_factory()});
}

// roost-testd: roostd with the test service registered.
#include "daemon.hpp"
#include "test_service.hpp"

int main(int argc, char** argv) {
  return roost::daemon_main(argc, argv, {roost::testing::test_service_factory()});
}

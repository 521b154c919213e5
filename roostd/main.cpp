#include "daemon.hpp"
#include "roost/lmtpd/lmtp_service.hpp"

int main(int argc, char** argv) {
  // The protocol services register here as they arrive (imap and pop3 next).
  return roost::daemon_main(argc, argv, {roost::lmtp::service_factory()});
}

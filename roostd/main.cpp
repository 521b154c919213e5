#include "daemon.hpp"
#include "roost/imapd/imap_service.hpp"
#include "roost/lmtpd/lmtp_service.hpp"

int main(int argc, char** argv) {
  // The protocol services register here as they arrive (pop3 next).
  return roost::daemon_main(argc, argv, {roost::lmtp::service_factory(), roost::imap::service_factory()});
}

#include "daemon.hpp"
#include "roost/imapd/imap_service.hpp"
#include "roost/lmtpd/lmtp_service.hpp"
#include "roost/pop3d/pop3_service.hpp"
#include "roost/proxy/socketmap_service.hpp"

int main(int argc, char** argv) {
  return roost::daemon_main(argc, argv,
                            {roost::lmtp::service_factory(), roost::imap::service_factory(),
                             roost::pop3::service_factory(), roost::proxy::socketmap_service_factory()});
}

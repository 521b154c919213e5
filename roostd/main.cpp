#include "daemon.hpp"

int main(int argc, char** argv) {
  // The protocol services (imap, pop3, lmtp) register here as they arrive.
  return roost::daemon_main(argc, argv, {});
}

// The writer the crash test kills: delivers messages, marks some \Seen and
// expunges some, and prints each result on stdout only after storage
// answered success, which is what a client would have been told:
//   D <n> <uid>    message <n> delivered as <uid>
//   S <uid>        \Seen stored
//   X <uid>        expunged
//   M <n>          message <n> moved to the folder "Moved"
// It dies with its parent and stops by itself after a minute, so a failed
// test never leaves it running.
// usage: storage_crash_child MAIL_ROOT USER FIRST_N
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "roost/storage/storage.hpp"

int main(int argc, char** argv) {
  using namespace roost::storage;
  if (argc != 4) return 2;
  pid_t parent = ::getppid();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  StoreConfig config;
  config.mail_root = argv[1];
  config.host_name = "crash";
  Store store(config);
  auto user = store.open_user(argv[2]);
  if (!user) return 1;
  auto view = (*user)->open("INBOX", false);
  if (!view) return 1;
  if (auto made = (*user)->create("Moved"); !made && made.error().kind != ErrorKind::exists) return 1;
  for (long n = std::atol(argv[3]); std::chrono::steady_clock::now() < deadline; ++n) {
    NewMessage m;
    m.data = "From: crash@example.org\r\nSubject: message " + std::to_string(n) + "\r\nMessage-ID: <crash-" +
             std::to_string(n) + "@example.org>\r\n\r\nBody of " + std::to_string(n) + "\r\n";
    auto added = (*user)->deliver("INBOX", std::move(m));
    if (!added) continue;
    roost::index::Uid uid = added->uids[0];
    std::printf("D %ld %u\n", n, uid);
    std::fflush(stdout);
    if (n % 3 == 0) {
      auto stored = (*view)->store({uid}, StoreMode::add, Flags{roost::index::flag::seen, {}});
      if (stored && !stored->changed.empty()) {
        std::printf("S %u\n", uid);
        std::fflush(stdout);
      }
    }
    if (n % 7 == 0) {
      auto marked = (*view)->store({uid}, StoreMode::add, Flags{roost::index::flag::deleted, {}});
      auto gone = marked ? (*view)->expunge(std::vector<roost::index::Uid>{uid}) : Result<std::vector<roost::index::Uid>>();
      if (gone && gone->size() == 1) {
        std::printf("X %u\n", uid);
        std::fflush(stdout);
      }
    } else if (n % 4 == 1 && (*view)->refresh(true)) {
      auto moved = (*view)->copy({uid}, "Moved", true);
      if (moved && moved->source.size() == 1) {
        std::printf("M %ld\n", n);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

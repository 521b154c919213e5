// What OpenSSL itself keeps for one idle server-side TLS connection: the
// floor under Roost's memory per idle TLS connection. Runs handshakes in
// memory (a BIO pair per connection), with Roost's own server context
// (TlsContext: no tickets, no session cache, released record buffers),
// exchanges one line each way, and counts the bytes and blocks the
// server's SSL calls allocated and still hold, through OpenSSL's allocator
// hooks. The memory BIO pair that stands in for the socket is not counted
// (Roost's socket BIO is about 100 bytes). --detail lists the live blocks of the last connection by the
// OpenSSL source line that allocated them.
//
//   tls_state --cert CERT.pem --key KEY.pem [--suites LIST] [--connections N] [--detail]
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "roost/core/tls.hpp"

using roost::Config;
using roost::TlsContext;
using roost::take_openssl_errors;

namespace {

// Every block carries a header: its size, whether the server allocated it,
// and where in OpenSSL. Aligned as malloc's blocks are.
struct alignas(16) Header {
  std::size_t size;
  const char* file;
  int line;
  bool counted;
  bool recorded;
};
static_assert(sizeof(Header) % 16 == 0);

bool counting = false;   // inside a server-side SSL call
bool recording = false;  // ... of the connection whose blocks --detail lists
long live_bytes = 0;
long live_blocks = 0;
std::map<void*, Header*>* recorded = nullptr;

void* allocate(std::size_t n, const char* file, int line) {
  auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + n));
  if (h == nullptr) return nullptr;
  *h = Header{n, file, line, counting, counting && recording};
  if (h->counted) {
    live_bytes += static_cast<long>(n);
    ++live_blocks;
  }
  if (h->recorded && recorded != nullptr) (*recorded)[h + 1] = h;
  return h + 1;
}

void release(void* p, const char*, int) {
  if (p == nullptr) return;
  auto* h = static_cast<Header*>(p) - 1;
  if (h->counted) {
    live_bytes -= static_cast<long>(h->size);
    --live_blocks;
  }
  if (h->recorded && recorded != nullptr) recorded->erase(p);
  std::free(h);
}

void* reallocate(void* p, std::size_t n, const char* file, int line) {
  if (p == nullptr) return allocate(n, file, line);
  auto* old = static_cast<Header*>(p) - 1;
  void* q = allocate(n, file, line);
  if (q != nullptr) std::memcpy(q, p, old->size < n ? old->size : n);
  release(p, file, line);
  return q;
}

// Runs `call` with the server's allocations counted.
template <class F>
auto as_server(F call) {
  counting = true;
  auto result = call();
  counting = false;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any other OpenSSL call, or the hooks are refused.
  if (CRYPTO_set_mem_functions(allocate, reallocate, release) != 1) {
    std::fprintf(stderr, "cannot install allocator hooks\n");
    return 1;
  }
  std::string cert, key, suites;
  int n = 100;
  bool detail = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cert" && i + 1 < argc) cert = argv[++i];
    else if (a == "--key" && i + 1 < argc) key = argv[++i];
    else if (a == "--suites" && i + 1 < argc) suites = argv[++i];
    else if (a == "--connections" && i + 1 < argc) n = std::atoi(argv[++i]);
    else if (a == "--detail") detail = true;
    else {
      std::fprintf(stderr, "usage: tls_state --cert CERT.pem --key KEY.pem [--suites LIST] [--connections N] [--detail]\n");
      return 2;
    }
  }
  if (cert.empty() || key.empty() || n < 1) {
    std::fprintf(stderr, "tls_state: --cert and --key are required\n");
    return 2;
  }

  Config::Tls settings;
  settings.certificate = cert;
  settings.key = key;
  settings.min_version = "1.2";
  auto context = TlsContext::create(settings);
  if (!context) {
    std::fprintf(stderr, "tls_state: %s\n", context.error().c_str());
    return 1;
  }
  SSL_CTX* server_ctx = (*context)->native();
  if (!suites.empty() && SSL_CTX_set_ciphersuites(server_ctx, suites.c_str()) != 1) {
    std::fprintf(stderr, "tls_state: --suites: %s\n", take_openssl_errors().c_str());
    return 1;
  }
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());

  recorded = new std::map<void*, Header*>;
  std::vector<SSL*> servers;
  std::vector<SSL*> clients;
  const long bytes_before = live_bytes;
  const long blocks_before = live_blocks;
  for (int i = 0; i < n; ++i) {
    recording = i == n - 1;
    BIO* server_end = nullptr;
    BIO* client_end = nullptr;
    BIO_new_bio_pair(&server_end, 0, &client_end, 0);
    SSL* server = as_server([&] {
      SSL* s = SSL_new(server_ctx);
      SSL_set_bio(s, server_end, server_end);
      SSL_set_accept_state(s);
      return s;
    });
    SSL* client = SSL_new(client_ctx);
    SSL_set_bio(client, client_end, client_end);
    SSL_set_connect_state(client);
    bool done = false;
    for (int round = 0; round < 20 && !done; ++round) {
      const int c = SSL_do_handshake(client);
      const int s = as_server([&] { return SSL_do_handshake(server); });
      done = c == 1 && s == 1;
    }
    if (!done) {
      std::fprintf(stderr, "handshake failed\n");
      ERR_print_errors_fp(stderr);
      return 1;
    }
    char buf[64];
    as_server([&] { return SSL_write(server, "* OK ready\r\n", 12); });
    SSL_read(client, buf, sizeof buf);
    SSL_write(client, "a NOOP\r\n", 8);
    as_server([&] { return SSL_read(server, buf, sizeof buf); });
    servers.push_back(server);
    clients.push_back(client);
    if (i == 0) std::printf("%s %s\n", SSL_get_version(server), SSL_get_cipher(server));
  }
  std::printf("per idle connection: %ld bytes in %ld blocks (over %d connections)\n",
              (live_bytes - bytes_before) / n, (live_blocks - blocks_before) / n, n);
  if (detail) {
    std::multimap<std::size_t, std::string> by_size;
    for (const auto& [p, h] : *recorded) by_size.emplace(h->size, std::string(h->file) + ":" + std::to_string(h->line));
    for (auto it = by_size.rbegin(); it != by_size.rend(); ++it) std::printf("%8zu  %s\n", it->first, it->second.c_str());
  }
  for (SSL* s : servers) SSL_free(s);
  for (SSL* c : clients) SSL_free(c);
  SSL_CTX_free(client_ctx);
  return 0;
}

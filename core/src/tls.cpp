#include "roost/core/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace roost {

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

std::expected<std::shared_ptr<TlsContext>, std::string> TlsContext::create(
    const Config::Tls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return std::unexpected(take_openssl_errors());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));

  int min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  // Release the 17 KiB read and write buffers whenever a connection has no
  // record in flight: idle sessions then cost a few KiB (LIBRARY-FACTS §5).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // No session is ever resumed (no cache, no stateless tickets): TLS 1.3
  // tickets would be wasted work and bytes.
  SSL_CTX_set_num_tickets(ctx, 0);

  if (!tls.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, tls.ciphers.c_str()) != 1) {
    return std::unexpected("[tls] ciphers: " + take_openssl_errors());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.certificate.c_str()) != 1) {
    return std::unexpected("cannot load certificate " + tls.certificate.string() + ": " +
                           take_openssl_errors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return std::unexpected("cannot load key " + tls.key.string() + ": " + take_openssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return std::unexpected("key " + tls.key.string() + " does not match certificate " +
                           tls.certificate.string());
  }
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace roost

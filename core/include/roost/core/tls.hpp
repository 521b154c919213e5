// TLS server context: certificate, key and policy, loaded from the
// configuration and replaced whole on SIGHUP (connections keep the context
// they started with). OpenSSL stays out of this header.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "roost/core/config.hpp"

struct ssl_ctx_st;

namespace roost {

class TlsContext {
 public:
  // Loads certificate and key and applies [tls] policy: TLS 1.2+ (or 1.3),
  // no compression, no renegotiation, buffers released while idle.
  static std::expected<std::shared_ptr<TlsContext>, std::string> create(const Config::Tls& tls);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

// The text of OpenSSL's error queue, emptied.
std::string take_openssl_errors();

}  // namespace roost

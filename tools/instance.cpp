#include "instance.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "roost/core/config.hpp"
#include "roost/core/tls.hpp"
#include "roost/directory/directory.hpp"

namespace roost::tools {

InstancePorts ports_for(unsigned base) {
  auto p = [&](unsigned offset) { return static_cast<std::uint16_t>(base + offset); };
  return {p(143), p(993), p(110), p(995), p(24), p(9100)};
}

std::expected<void, std::string> write_self_signed(const std::filesystem::path& cert_path,
                                                   const std::filesystem::path& key_path) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return std::unexpected("key generation failed: " + take_openssl_errors());
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Roost demo"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                            std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return std::unexpected("certificate extension: " + take_openssl_errors());
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return std::unexpected("signing failed: " + take_openssl_errors());
  }

  auto write = [](const std::filesystem::path& path, mode_t mode,
                  auto&& emit) -> std::expected<void, std::string> {
    std::FILE* f = std::fopen(path.c_str(), "wx");
    if (f == nullptr) return std::unexpected("cannot create " + path.string());
    ::fchmod(fileno(f), mode);
    bool ok = emit(f);
    ok = std::fclose(f) == 0 && ok;
    if (!ok) return std::unexpected("cannot write " + path.string());
    return {};
  };
  if (auto r = write(key_path, 0600,
                     [&](std::FILE* f) {
                       return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr,
                                                   nullptr) == 1;
                     });
      !r) {
    return r;
  }
  return write(cert_path, 0644, [&](std::FILE* f) { return PEM_write_X509(f, cert.get()) == 1; });
}

std::expected<InstancePorts, std::string> create_instance(const std::filesystem::path& dir_in,
                                                          unsigned port_base, const std::string& domain) {
  if (port_base + 9100 > 65535) return std::unexpected("--port-base is too high (max 56435)");
  std::error_code ec;
  auto dir = std::filesystem::absolute(dir_in, ec);
  auto conf = dir / "roost.conf";
  if (std::filesystem::exists(conf, ec)) {
    return std::unexpected(conf.string() + " already exists; not overwriting it");
  }
  for (const auto* sub : {"data", "run", "tls"}) {
    std::filesystem::create_directories(dir / sub, ec);
    if (ec) return std::unexpected("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  std::filesystem::permissions(dir / "tls", std::filesystem::perms::owner_all, ec);
  if (!std::filesystem::exists(dir / "tls" / "cert.pem")) {
    if (auto r = write_self_signed(dir / "tls" / "cert.pem", dir / "tls" / "key.pem"); !r) {
      return std::unexpected(r.error());
    }
  }

  auto ports = ports_for(port_base);
  auto listener = [](std::string_view name, std::string_view service, std::uint16_t port,
                     std::string_view tls) {
    return "[listener " + std::string(name) + "]\nservice = " + std::string(service) +
           "\naddress = 127.0.0.1:" + std::to_string(port) + "\ntls = " + std::string(tls) +
           "\n\n";
  };
  std::string text =
      "# Roost instance created by roostctl init. Every setting and its default:\n"
      "# docs/configuration.md. Relative paths are relative to this file.\n"
      "data_dir = data\n"
      "run_dir = run\n\n" +
      std::string(::geteuid() == 0 ? "[server]\n"
                                     "# roostctl init ran as root. For a real service, name the user roostd\n"
                                     "# should run as instead (user = roost), and give it data/ and run/.\n"
                                     "run_as_root = true\n\n"
                                   : "") +
      "[log]\nlevel = info\n\n"
      "[tls]\ncertificate = tls/cert.pem\nkey = tls/key.pem\n\n"
      "[auth]\n"
      "# This instance listens on loopback only; allow cleartext logins there so\n"
      "# that local tools work without TLS. Remove for a public listener.\n"
      "allow_plaintext_loopback = true\n\n"
      "[lmtp]\n"
      "# Mail for user@" + domain + " (and for a bare user) goes to the user of that name.\n"
      "default_domain = " + domain + "\n\n"
      "[metrics]\nlisten = 127.0.0.1:" +
      std::to_string(ports.metrics) + "\n\n" + listener("imap", "imap", ports.imap, "starttls") +
      listener("imaps", "imap", ports.imaps, "implicit") +
      listener("pop3", "pop3", ports.pop3, "starttls") +
      listener("pop3s", "pop3", ports.pop3s, "implicit") +
      listener("lmtp", "lmtp", ports.lmtp, "none");

  {
    std::ofstream out(conf, std::ios::binary);
    out << text;
    if (!out) return std::unexpected("cannot write " + conf.string());
  }
  auto config = load_config(conf);
  if (!config) return std::unexpected("the new configuration does not parse: " + config.error().message);
  auto users = directory::open_lmdb(config->auth.user_db, true);
  if (!users) return std::unexpected(users.error());
  return ports;
}

}  // namespace roost::tools

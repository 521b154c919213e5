#include "roost/core/credentials.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "roost/core/ascii.hpp"
#include "roost/core/base64.hpp"

namespace roost {
namespace {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return {};
  }
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::expected<std::string, std::string> canonical_user_name(std::string_view name) {
  if (name.empty()) return std::unexpected("user name is empty");
  if (name.size() > 255) return std::unexpected("user name is longer than 255 bytes");
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
    if (!ok) {
      return std::unexpected("user name may hold only letters, digits and . _ - + @");
    }
    out.push_back(ascii_lower(c));
  }
  if (out.front() == '.' || out.find("..") != std::string::npos) {
    return std::unexpected("user name must not start with '.' or contain '..'");
  }
  return out;
}

std::string scram_secret(std::string_view mechanism, std::string_view password,
                         std::string_view salt, unsigned iterations) {
  const EVP_MD* md = mechanism == "SCRAM-SHA-1" ? EVP_sha1() : EVP_sha256();
  int size = EVP_MD_get_size(md);
  std::string salted(static_cast<std::size_t>(size), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), md, size,
                    reinterpret_cast<unsigned char*>(salted.data()));
  std::string client_key = hmac(md, salted, "Client Key");
  std::string stored_key(static_cast<std::size_t>(size), '\0');
  unsigned len = 0;
  EVP_Digest(client_key.data(), client_key.size(),
             reinterpret_cast<unsigned char*>(stored_key.data()), &len, md, nullptr);
  std::string server_key = hmac(md, salted, "Server Key");
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return std::string(mechanism) + "$" + std::to_string(iterations) + ":" + base64_encode(salt) + "$" +
         base64_encode(stored_key) + ":" + base64_encode(server_key);
}

std::expected<UserRecord, std::string> make_user_record(std::string_view name, std::string_view password,
                                                        const ScramSettings& scram) {
  auto canonical = canonical_user_name(name);
  if (!canonical) return std::unexpected(canonical.error());
  if (password.empty()) return std::unexpected("password is empty");
  if (password.find('\0') != std::string_view::npos) {
    return std::unexpected("password contains a NUL byte");
  }
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) == nullptr) {
    return std::unexpected("cannot make a yescrypt salt");
  }
  crypt_data data{};
  std::string pw(password);
  const char* hashed = crypt_r(pw.c_str(), setting, &data);
  OPENSSL_cleanse(pw.data(), pw.size());
  if (hashed == nullptr || hashed[0] == '*') return std::unexpected("yescrypt hashing failed");

  UserRecord r;
  r.name = *canonical;
  r.password_hash = hashed;
  OPENSSL_cleanse(data.input, sizeof data.input);
  std::string salt1 = random_bytes(16);
  std::string salt256 = random_bytes(16);
  if (salt1.empty() || salt256.empty()) return std::unexpected("no random bytes available");
  if (scram.sha1) r.scram_sha1 = scram_secret("SCRAM-SHA-1", password, salt1, scram.iterations);
  r.scram_sha256 = scram_secret("SCRAM-SHA-256", password, salt256, scram.iterations);
  return r;
}

bool verify_password_hash(std::string_view password, const std::string& hash) {
  crypt_data data{};
  std::string pw(password);
  const char* computed = crypt_r(pw.c_str(), hash.c_str(), &data);
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = computed != nullptr && computed[0] != '*' && std::strlen(computed) == hash.size() &&
            CRYPTO_memcmp(computed, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.input, sizeof data.input);
  return ok;
}

}  // namespace roost

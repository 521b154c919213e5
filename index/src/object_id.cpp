#include "roost/index/object_id.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace roost::index {
namespace {

// 128 bits of SHA-256 over `domain` and `text`, in base64url without
// padding: 22 characters. The domain keeps thread and message names apart
// even where their texts agree.
std::string hashed(char prefix, std::string_view domain, std::string_view text) {
  std::string input;
  input.reserve(domain.size() + text.size());
  input += domain;
  input += text;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[32];
  const int length = EVP_EncodeBlock(encoded, digest, 16);  // 24 characters, two of them "="
  std::string out(1, prefix);
  for (int i = 0; i < length && encoded[i] != '='; ++i) {
    const char c = static_cast<char>(encoded[i]);
    out += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

}  // namespace

std::string email_id(const MessageRecord& record) { return hashed('M', "message\n", record.identity()); }

std::string thread_id(const MessageRecord& record, const MessageKeys& keys) {
  if (!keys.references.empty() && !keys.references.front().empty())
    return hashed('T', "thread\n", keys.references.front());
  if (!keys.message_id.empty()) return hashed('T', "thread\n", keys.message_id);
  return hashed('T', "message\n", record.identity());
}

std::string mailbox_id(std::string_view uidlist_guid) { return "F" + std::string(uidlist_guid); }

}  // namespace roost::index

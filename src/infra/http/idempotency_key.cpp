#include "infra/http/idempotency_key.hpp"

#include <openssl/evp.h>

namespace rocketmart::http {
namespace {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace

Result<std::optional<std::string_view>> IdempotencyKeyOf(const Request& req) {
  const auto it = req.raw.find("Idempotency-Key");
  if (it == req.raw.end()) return std::optional<std::string_view>{};
  const std::string_view key = it->value();
  if (key.empty() || key.size() > kMaxIdempotencyKeyBytes) {
    return MakeError(Errc::kValidationFailed, "Idempotency-Key must be 1 to 255 characters",
                     "Idempotency-Key");
  }
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return MakeError(Errc::kValidationFailed, "Idempotency-Key must be printable ASCII",
                       "Idempotency-Key");
    }
  }
  return std::optional<std::string_view>{key};
}

Result<std::optional<IdempotencyKey>> ReadIdempotencyKey(const Request& req) {
  auto key = IdempotencyKeyOf(req);
  if (!key.ok()) return std::move(key).error();
  if (!*key) return std::optional<IdempotencyKey>{};
  std::string fingerprint;
  fingerprint.append(req.raw.method_string()).append(" ").append(req.path).append("\n");
  fingerprint.append(req.Body());
  return std::optional<IdempotencyKey>{IdempotencyKey{std::string(**key), Sha256Hex(fingerprint)}};
}

}  // namespace rocketmart::http

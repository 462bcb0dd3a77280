// JWT claims after a valid signature: the part of Verify an attacker reaches only with the key,
// or through a bug in the signature check. The harness signs whatever the fuzzer writes, so the
// claims parser sees arbitrary JSON (and arbitrary headers when the first byte says so).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/base64url.hpp"
#include "auth/identity.hpp"
#include "auth/jwt.hpp"

namespace {

using namespace rocketmart;
using namespace rocketmart::auth;

const std::string kSecret(32, 's');

const Keyring& Ring() {
  static const Keyring ring = [] {
    Keyring r;
    if (!r.Add({"k1", kSecret}, true).ok()) std::abort();
    return r;
  }();
  return ring;
}

std::string Signed(std::string_view header, std::string_view payload) {
  std::string token = Base64UrlEncode(header);
  token += '.';
  Base64UrlEncodeAppend(payload, token);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac, &mac_size);
  token += '.';
  Base64UrlEncodeAppend(std::string_view(reinterpret_cast<const char*>(mac), mac_size), token);
  return token;
}

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  // Odd first byte: the input is "header\npayload"; even: only the payload, under a good header.
  std::string_view header = R"({"alg":"HS256","typ":"JWT","kid":"k1"})";
  std::string_view payload = input;
  if (data[0] & 1) {
    const std::size_t split = input.find('\n');
    if (split == std::string_view::npos) return 0;
    header = input.substr(0, split);
    payload = input.substr(split + 1);
  }
  const VerifyOptions options{.issuer = "rocketmart", .audience = "rocketmart-api"};
  const TimePoint now{std::chrono::seconds{1'800'000'000}};
  auto claims = Verify(Signed(header, payload), Ring(), options, now);
  if (!claims.ok()) return 0;
  Require(claims->member_id > 0);
  Require(!claims->role.empty());
  Require(claims->type == kAccessType);
  Require(claims->issuer == options.issuer && claims->audience == options.audience);
  Require(!ExpiredAt(*claims, options, now));
  // Roles are checked one layer up: what becomes an identity is a user or an admin.
  if (auto identity = IdentityFromClaims(*claims); identity.ok()) {
    Require(identity->role == Role::kUser || identity->role == Role::kAdmin);
    Require(identity->member_id == claims->member_id);
  }
  return 0;
}

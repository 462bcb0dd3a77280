#include "services/gateway/jwt_authenticator.hpp"

#include <spdlog/spdlog.h>

namespace rocketmart::gateway {

JwtAuthenticator::JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options,
                                   const Clock& clock, metrics::Registry& metrics)
    : keyring_(std::move(keyring)),
      options_(std::move(options)),
      clock_(clock),
      rejected_(metrics.GetCounter("auth_tokens_rejected_total",
                                   "Bearer tokens that failed verification")) {}

Result<auth::Identity> JwtAuthenticator::Authenticate(std::string_view bearer_token) const {
  auto claims = auth::Verify(bearer_token, keyring_, options_, clock_.Now());
  if (!claims.ok()) {
    rejected_.Add();
    spdlog::debug("token rejected: {}", claims.error().message);
    return claims.error();
  }
  return auth::IdentityFromClaims(*claims);
}

}  // namespace rocketmart::gateway

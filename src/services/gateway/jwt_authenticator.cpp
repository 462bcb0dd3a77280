#include "services/gateway/jwt_authenticator.hpp"

#include <spdlog/spdlog.h>

namespace rocketmart::gateway {

JwtAuthenticator::JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options,
                                   const RevokedTokens& revoked, const Clock& clock,
                                   metrics::Registry& metrics)
    : revoked_(revoked),
      keyring_(std::move(keyring)),
      options_(std::move(options)),
      clock_(clock),
      rejected_(metrics.GetCounter("auth_tokens_rejected_total",
                                   "Bearer tokens that failed verification")) {}

Result<auth::Identity> JwtAuthenticator::Authenticate(std::string_view bearer_token) const {
  const TimePoint now = clock_.Now();
  const auth::Claims* claims = verified_.Find(bearer_token);
  if (claims != nullptr && auth::ExpiredAt(*claims, options_, now)) {
    verified_.Erase(bearer_token);
    rejected_.Add();
    spdlog::debug("token rejected: expired");
    return MakeError(Errc::kUnauthenticated, "expired");
  }
  if (claims == nullptr) {
    auto verified = auth::Verify(bearer_token, keyring_, options_, now);
    if (!verified.ok()) {
      rejected_.Add();
      spdlog::debug("token rejected: {}", verified.error().message);
      return verified.error();
    }
    claims = &verified_.Insert(bearer_token, std::move(*verified));
  }
  if (revoked_.IsRevoked(claims->member_id, claims->token_id, claims->issued_at)) {
    rejected_.Add();
    spdlog::debug("token rejected: revoked");
    return MakeError(Errc::kUnauthenticated, "revoked");
  }
  return auth::IdentityFromClaims(*claims);
}

}  // namespace rocketmart::gateway

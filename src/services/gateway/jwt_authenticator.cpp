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
  if (denylist_ && denylist_->IsRevoked(claims->member_id, claims->token_id, claims->issued_at)) {
    rejected_.Add();
    spdlog::debug("token rejected: revoked");
    return MakeError(Errc::kUnauthenticated, "revoked");
  }
  return auth::IdentityFromClaims(*claims);
}

void TokenDenylist::DenyToken(std::int64_t member_id, const std::string& token_id,
                              TimePoint expires_at, TimePoint now) {
  std::unique_lock lock(mu_);
  auto& denied = members_[member_id].denied;
  std::erase_if(denied, [now](const auto& d) { return d.second <= now; });
  denied.emplace_back(token_id, expires_at);
  empty_.store(false, std::memory_order_release);
}

void TokenDenylist::InvalidateBefore(std::int64_t member_id, TimePoint valid_after) {
  std::unique_lock lock(mu_);
  Entry& e = members_[member_id];
  e.valid_after = std::max(e.valid_after, valid_after);
  empty_.store(false, std::memory_order_release);
}

bool TokenDenylist::IsRevoked(std::int64_t member_id, std::string_view token_id,
                              TimePoint issued_at) const {
  if (empty_.load(std::memory_order_acquire)) return false;
  std::shared_lock lock(mu_);
  const auto it = members_.find(member_id);
  if (it == members_.end()) return false;
  if (issued_at < it->second.valid_after) return true;
  for (const auto& d : it->second.denied) {
    if (d.first == token_id) return true;
  }
  return false;
}

}  // namespace rocketmart::gateway

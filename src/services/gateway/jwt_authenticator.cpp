#include "services/gateway/jwt_authenticator.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rocketmart::gateway {

namespace {

// A drop's buyers send the same token with every attempt; verifying it (base64, HMAC, JSON) each
// time was a visible part of a sold-out answer. Entries are exact token bytes that verified, so a
// hit proves what a fresh Verify would, except expiry, which is checked on every request, as is
// revocation. Per thread, so the request path takes no lock; bounded, cleared when full.
constexpr std::size_t kVerifiedCacheEntries = 4096;

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

struct VerifiedTokens {
  std::uint64_t owner = 0;
  std::unordered_map<std::string, auth::Claims, TransparentHash, std::equal_to<>> claims;
};

thread_local VerifiedTokens tls_verified;
std::atomic<std::uint64_t> next_cache_id{1};

}  // namespace

JwtAuthenticator::JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options,
                                   const RevokedTokens& revoked, const Clock& clock,
                                   metrics::Registry& metrics)
    : cache_id_(next_cache_id.fetch_add(1)),
      revoked_(revoked),
      keyring_(std::move(keyring)),
      options_(std::move(options)),
      clock_(clock),
      rejected_(metrics.GetCounter("auth_tokens_rejected_total",
                                   "Bearer tokens that failed verification")) {}

Result<auth::Identity> JwtAuthenticator::Authenticate(std::string_view bearer_token) const {
  const TimePoint now = clock_.Now();
  VerifiedTokens& cache = tls_verified;
  if (cache.owner != cache_id_) {
    cache.claims.clear();
    cache.owner = cache_id_;
  }
  const auth::Claims* claims = nullptr;
  if (auto hit = cache.claims.find(bearer_token); hit != cache.claims.end()) {
    if (auth::ExpiredAt(hit->second, options_, now)) {
      cache.claims.erase(hit);
      rejected_.Add();
      spdlog::debug("token rejected: expired");
      return MakeError(Errc::kUnauthenticated, "expired");
    }
    claims = &hit->second;
  } else {
    auto verified = auth::Verify(bearer_token, keyring_, options_, now);
    if (!verified.ok()) {
      rejected_.Add();
      spdlog::debug("token rejected: {}", verified.error().message);
      return verified.error();
    }
    if (cache.claims.size() >= kVerifiedCacheEntries) cache.claims.clear();
    claims = &cache.claims.emplace(std::string(bearer_token), std::move(*verified)).first->second;
  }
  if (revoked_.IsRevoked(claims->member_id, claims->token_id, claims->issued_at)) {
    rejected_.Add();
    spdlog::debug("token rejected: revoked");
    return MakeError(Errc::kUnauthenticated, "revoked");
  }
  return auth::IdentityFromClaims(*claims);
}

}  // namespace rocketmart::gateway

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
                                   const Clock& clock, metrics::Registry& metrics)
    : cache_id_(next_cache_id.fetch_add(1)),
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
  if (denylist_ && denylist_->IsRevoked(claims->member_id, claims->token_id, claims->issued_at)) {
    rejected_.Add();
    spdlog::debug("token rejected: revoked");
    return MakeError(Errc::kUnauthenticated, "revoked");
  }
  return auth::IdentityFromClaims(*claims);
}

void TokenDenylist::Deny(std::int64_t member_id, Denials Entry::*list, const std::string& id,
                         TimePoint expires_at, TimePoint now) {
  std::unique_lock lock(mu_);
  Denials& denied = members_[member_id].*list;
  std::erase_if(denied, [now](const auto& d) { return d.second <= now; });
  denied.emplace_back(id, expires_at);
  empty_.store(false, std::memory_order_release);
}

void TokenDenylist::DenyToken(std::int64_t member_id, const std::string& token_id,
                              TimePoint expires_at, TimePoint now) {
  Deny(member_id, &Entry::denied, token_id, expires_at, now);
}

void TokenDenylist::DenyFamily(std::int64_t member_id, const std::string& family_id,
                               TimePoint expires_at, TimePoint now) {
  if (family_id.empty()) return;
  Deny(member_id, &Entry::families, family_id, expires_at, now);
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
  const std::size_t dot = token_id.find('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view family = token_id.substr(0, dot);
  for (const auto& f : it->second.families) {
    if (f.first == family) return true;
  }
  return false;
}

}  // namespace rocketmart::gateway

#include "auth/internal_identity.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "auth/verified_token_cache.hpp"

namespace rocketmart::auth {

namespace {

// "internal-" and 12 hex digits of SHA-256 over a label and the secret: the same in every process,
// and nothing an attacker can use to guess the secret.
std::string InternalKid(std::string_view secret) {
  std::string input = "rocketmart internal key id\n";
  input.append(secret);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  std::string kid = "internal-";
  char hex[3];
  for (int i = 0; i < 6; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    kid += hex;
  }
  return kid;
}

}  // namespace

Result<Keyring> InternalKeyring(std::string_view signing_secret, std::string_view accepted_secret) {
  if (!accepted_secret.empty() && accepted_secret == signing_secret) {
    return MakeError(Errc::kValidationFailed,
                     "the accepted internal key is the signing one: during a rotation they differ");
  }
  Keyring keyring;
  if (!accepted_secret.empty()) {
    if (auto st = keyring.Add({InternalKid(accepted_secret), std::string(accepted_secret)}, false);
        !st.ok()) {
      return st.error();
    }
  }
  if (auto st = keyring.Add({InternalKid(signing_secret), std::string(signing_secret)}, true);
      !st.ok()) {
    return st.error();
  }
  return keyring;
}

std::string SignInternalIdentity(const Identity& identity, const Keyring& internal_keys,
                                 TimePoint now) {
  Claims claims;
  claims.member_id = identity.member_id;
  claims.role = std::string(RoleName(identity.role));
  claims.type = std::string(kInternalType);
  claims.token_id = identity.token_id;
  claims.issued_at = now;
  claims.not_before = now;
  const TimePoint cap = now + kInternalLifetime;
  claims.expires_at = identity.expires_at == TimePoint{} ? cap : std::min(cap, identity.expires_at);
  claims.issuer = std::string(kInternalIssuer);
  claims.audience = std::string(kInternalAudience);
  claims.email_verified = identity.email_verified;
  return Sign(claims, internal_keys);
}

namespace {

// The gateway and the service share a host or a LAN: little clock skew.
constexpr std::chrono::seconds kInternalLeeway{5};

struct SignedForMember {
  Identity identity;
  std::uint64_t key = 0;  // Keyring::active_key_serial
  TimePoint signed_at;
  std::string token;
};

// The start of the window of kInternalReuse (counted from the epoch) that holds `now`: a token is
// signed as of its window's start, so every thread of every gateway signs the same bytes for an
// identity within a window, and a service verifies them once (its verification cache).
TimePoint ReuseWindowStart(TimePoint now) {
  const auto since_epoch = now.time_since_epoch();
  return TimePoint(since_epoch -
                   since_epoch % std::chrono::duration_cast<TimePoint::duration>(kInternalReuse));
}

bool SameIdentity(const Identity& a, const Identity& b) {
  return a.member_id == b.member_id && a.role == b.role && a.token_id == b.token_id &&
         a.expires_at == b.expires_at && a.email_verified == b.email_verified;
}

}  // namespace

std::string SignInternalIdentityReusing(const Identity& identity, const Keyring& internal_keys,
                                        TimePoint now) {
  thread_local std::unordered_map<std::int64_t, SignedForMember> signed_tokens;
  const std::uint64_t key = internal_keys.active_key_serial();
  const TimePoint window = ReuseWindowStart(now);
  if (const auto hit = signed_tokens.find(identity.member_id); hit != signed_tokens.end()) {
    const SignedForMember& last = hit->second;
    if (last.key == key && last.signed_at == window && SameIdentity(last.identity, identity)) {
      return last.token;
    }
  }
  if (signed_tokens.size() >= kTokenCacheEntries) signed_tokens.clear();
  std::string token = SignInternalIdentity(identity, internal_keys, window);
  signed_tokens.insert_or_assign(identity.member_id, SignedForMember{identity, key, window, token});
  return token;
}

bool InternalIdentityExpired(const Identity& identity, TimePoint now) {
  return now > identity.expires_at + kInternalLeeway;
}

Result<Identity> VerifyInternalIdentity(std::string_view token, const Keyring& internal_keys,
                                        TimePoint now) {
  VerifyOptions options;
  options.issuer = std::string(kInternalIssuer);
  options.audience = std::string(kInternalAudience);
  options.expected_type = std::string(kInternalType);
  options.leeway = kInternalLeeway;
  auto claims = Verify(token, internal_keys, options, now);
  if (!claims.ok()) return std::move(claims).error();
  if (claims->member_id <= 0) return MakeError(Errc::kUnauthenticated, "bad sub");
  const auto role = ParseRole(claims->role);
  if (!role) return MakeError(Errc::kUnauthenticated, "unknown role");
  return Identity{claims->member_id, *role, claims->token_id, claims->expires_at,
                  claims->email_verified};
}

}  // namespace rocketmart::auth

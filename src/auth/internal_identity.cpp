#include "auth/internal_identity.hpp"

#include <algorithm>

namespace rocketmart::auth {

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

Result<Identity> VerifyInternalIdentity(std::string_view token, const Keyring& internal_keys,
                                        TimePoint now) {
  VerifyOptions options;
  options.issuer = std::string(kInternalIssuer);
  options.audience = std::string(kInternalAudience);
  options.expected_type = std::string(kInternalType);
  options.leeway = std::chrono::seconds(5);  // the gateway and the service share a host or a LAN
  auto claims = Verify(token, internal_keys, options, now);
  if (!claims.ok()) return std::move(claims).error();
  if (claims->member_id <= 0) return MakeError(Errc::kUnauthenticated, "bad sub");
  const auto role = ParseRole(claims->role);
  if (!role) return MakeError(Errc::kUnauthenticated, "unknown role");
  return Identity{claims->member_id, *role, claims->token_id, claims->expires_at,
                  claims->email_verified};
}

}  // namespace rocketmart::auth

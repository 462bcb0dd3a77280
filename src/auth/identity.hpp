// The verified identity of a request: who the caller is and what role they hold.
//
// Produced only from the claims of a verified access token (IdentityFromClaims), so code that
// holds an Identity may trust it. Value type; thread-safe like any immutable value.
// Usage: auto claims = Verify(token, ring, opts, now); auto id = IdentityFromClaims(*claims);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::auth {

enum class Role { kUser, kAdmin };

// Synthetic ("load-test") identities: member ids from 2^53 up. Real members never get one (the
// members database refuses ids there, docs/adr/0012), so a synthetic identity's orders, holds,
// likes and carts can never collide with or be inherited by a real member. Minted only by
// `rocketmart token --synthetic` and the load driver; identity number n is member id 2^53 + n.
// (2^53 is also where JSON numbers stop being exact in JavaScript: a client showing one of these
// ids may round it, which is harmless for a load test and impossible for a real member.)
inline constexpr std::int64_t kSyntheticMemberBase = std::int64_t{1} << 53;
inline constexpr std::int64_t kMaxSyntheticNumber = std::int64_t{1} << 62;
constexpr bool IsSyntheticMember(std::int64_t member_id) {
  return member_id >= kSyntheticMemberBase;
}
constexpr std::int64_t SyntheticMemberId(std::int64_t n) {
  return kSyntheticMemberBase + n;
}

struct Identity {
  std::int64_t member_id = 0;
  Role role = Role::kUser;
  std::string token_id;  // jti of the access token, for audit logs and revocation.
  TimePoint expires_at{};
  bool email_verified = false;  // from the access token; checkout refuses purchases without it
};

// "user" | "admin": the wire name used in the `role` claim.
std::string_view RoleName(Role role);
// Exact, case-sensitive: an unknown role is an error, never a silent downgrade or upgrade.
std::optional<Role> ParseRole(std::string_view name);

// kUnauthenticated unless the claims are an access token for a positive member id with a known
// role: a refresh token never becomes an identity.
Result<Identity> IdentityFromClaims(const Claims& claims);

}  // namespace rocketmart::auth

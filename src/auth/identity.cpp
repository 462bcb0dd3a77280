#include "auth/identity.hpp"

namespace rocketmart::auth {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kUser:
      return "user";
    case Role::kAdmin:
      return "admin";
  }
  return "user";  // Unreachable: every enumerator is handled above.
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "user") return Role::kUser;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

Result<Identity> IdentityFromClaims(const Claims& claims) {
  if (claims.type != kAccessType) return MakeError(Errc::kUnauthenticated, "not an access token");
  if (claims.member_id <= 0) return MakeError(Errc::kUnauthenticated, "bad sub");
  const auto role = ParseRole(claims.role);
  if (!role) return MakeError(Errc::kUnauthenticated, "unknown role");
  return Identity{claims.member_id, *role, claims.token_id, claims.expires_at,
                  claims.email_verified};
}

}  // namespace rocketmart::auth

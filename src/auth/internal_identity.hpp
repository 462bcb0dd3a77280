// The identity the gateway hands a service when the services run apart (issue 15). Clients
// authenticate to the gateway only (their access token, verified there with the members' key set
// and the deny-list); the gateway forwards each request with a short-lived internal token in
// kInternalIdentityHeader, signed with the cluster's internal key (auth.internal_secret), which
// is never the key that signs members' tokens. A service run on its own accepts identity only from
// that header: a request that reaches it directly, with a forged, expired or missing internal
// token, is unauthenticated whatever Authorization or X-User-Id headers it carries.
//
// The internal token is a JWT (HS256, auth/jwt.hpp) of type "internal", issuer
// "rocketmart-gateway", audience "rocketmart-internal", living at most kInternalLifetime and never
// past the access token it stands for; its jti is the access token's (logs and revocation follow
// the member's session).
//
// Thread-safety: functions over a const Keyring; SignInternalIdentityReusing keeps a per-thread
// cache.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::auth {

inline constexpr std::string_view kInternalIdentityHeader = "X-Rocketmart-Identity";
inline constexpr std::string_view kInternalType = "internal";
inline constexpr std::string_view kInternalIssuer = "rocketmart-gateway";
inline constexpr std::string_view kInternalAudience = "rocketmart-internal";
inline constexpr std::chrono::seconds kInternalLifetime{30};

// The cluster's internal key set: `signing_secret` signs (and verifies), `accepted_secret` (may be
// empty) only verifies, so the key can be rotated with no request refused while processes restart
// one by one (docs/cluster.md "Rotating the internal key"). Each key's kid is derived from its
// secret (a SHA-256 prefix, not the secret), so every process names the same key alike with no
// setting. kValidationFailed: a secret under 32 bytes, or the two the same.
Result<Keyring> InternalKeyring(std::string_view signing_secret, std::string_view accepted_secret);

// The internal token for one forwarded request of `identity` (verified by the gateway).
std::string SignInternalIdentity(const Identity& identity, const Keyring& internal_keys,
                                 TimePoint now);

// The identity an internal token carries; kUnauthenticated when it is not one the gateway signed
// with `internal_keys`, has expired, or names no member or role. Never throws.
Result<Identity> VerifyInternalIdentity(std::string_view token, const Keyring& internal_keys,
                                        TimePoint now);

// True once the internal token that carried `identity` (VerifyInternalIdentity) has expired, with
// the leeway verification allows: what a service checks again when it reuses a verification.
bool InternalIdentityExpired(const Identity& identity, TimePoint now);

// How long the gateway sends one signed internal token again for the same identity and key: a
// drop's buyer sends many requests a second, and signing (JSON, base64, HMAC) each was a visible
// part of a sold-out answer; a service then verifies the token once (its verification cache).
// A reused token still has at least kInternalLifetime - kInternalReuse to live.
inline constexpr std::chrono::seconds kInternalReuse{10};

// SignInternalIdentity as of the start of the window of kInternalReuse (from the epoch) that
// holds `now`: the same identity (member, role, access token id and expiry, email flag) and key
// give the same token for the whole window, on any thread of any gateway, so a service verifies
// it once. Reuses the token this thread last signed for the member when it is that one. Per
// thread, no lock; bounded.
std::string SignInternalIdentityReusing(const Identity& identity, const Keyring& internal_keys,
                                        TimePoint now);

}  // namespace rocketmart::auth

// JSON Web Tokens (RFC 7519) signed with HS256, for member access and refresh tokens.
//
// Hardened per RFC 8725 and OWASP ASVS 5.0 V9: the algorithm is pinned per key id (every key is
// HS256), `none` and all other algorithms are rejected before the payload is decoded, key-locating
// headers (`jku`, `x5u`, `jwk`, `x5c`) and `crit` are rejected, the signature is checked in
// constant time before any claim is looked at, and `exp`/`nbf`/`iss`/`aud`/`typ` are enforced.
//
// Thread-safety: a Keyring is safe for concurrent const use (Sign/Verify) from any number of
// threads; mutating it (Add/Remove) needs exclusive access. To rotate keys in a running server,
// build a new Keyring and publish it (e.g. std::atomic<std::shared_ptr<const Keyring>>).
//
// Usage:
//   Keyring ring;
//   ring.Add({"k2", secret2}, /*active=*/true);   // signs new tokens
//   ring.Add({"k1", secret1}, /*active=*/false);  // still verifies tokens issued before rotation
//   std::string token = Sign(claims, ring);
//   Result<Claims> c = Verify(token, ring, {.issuer = "rocketmart", .audience = "rocketmart-api"},
//                             clock.Now());
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::auth {

// Shorter HMAC keys are brute-forceable offline from a single captured token (RFC 7518 §3.2).
inline constexpr std::size_t kMinSecretBytes = 32;
// Tokens larger than this are rejected before any decoding, bounding the work an attacker can
// cause.
inline constexpr std::size_t kMaxTokenBytes = 8192;
// Leeway above this would make `exp` meaningless; larger configured values are clamped.
inline constexpr std::chrono::seconds kMaxLeeway{60};

inline constexpr std::string_view kAccessType = "access";
inline constexpr std::string_view kRefreshType = "refresh";

struct SigningKey {
  std::string kid;     // 1..64 chars of [A-Za-z0-9._-]; appears in the token header.
  std::string secret;  // Raw key bytes, at least kMinSecretBytes.
  // A retiring key (rotation, battery G2): tokens signed with it verify only before this instant.
  // Never set on the active key.
  std::optional<TimePoint> verify_until;
};

struct Claims;
struct VerifyOptions;

// Copies are cheap: they share the immutable key entries.
class Keyring {
 public:
  // Adds an HS256 key. `active` makes it the signing key (the previous active key stays as
  // verify-only). Rejects (kValidationFailed) short secrets, malformed or duplicate kids, and an
  // active key with a verify_until.
  Result<void> Add(SigningKey key, bool active);
  // Removes a key; tokens signed with it stop verifying. The active key cannot be removed (returns
  // false): activate its successor first.
  bool Remove(std::string_view kid);

  bool Contains(std::string_view kid) const;
  bool has_active() const { return active_ >= 0; }
  std::string_view active_kid() const;
  // Names the signing key's material for caches of what it signed: unique in the process (a key
  // added again, or another key under the same kid, gets another), 0 with no active key.
  std::uint64_t active_key_serial() const;
  std::size_t size() const;

  struct Entry;  // Key material plus a prepared HMAC context; defined in jwt.cpp.

 private:
  friend std::string Sign(const Claims& claims, const Keyring& keyring);
  friend Result<Claims> Verify(std::string_view token, const Keyring& keyring,
                               const VerifyOptions& options, TimePoint now);
  const Entry* Find(std::string_view kid) const;
  const Entry* Active() const;

  std::vector<std::shared_ptr<const Entry>> entries_;
  int active_ = -1;
};

struct Claims {
  std::int64_t member_id = 0;   // `sub`, as a decimal string on the wire.
  std::string role;             // "user" | "admin".
  std::string type;             // `typ` claim: "access" | "refresh".
  std::string token_id;         // `jti`: random 128-bit hex; Sign generates one when empty.
  TimePoint issued_at{};        // `iat` (whole seconds on the wire).
  TimePoint not_before{};       // `nbf`
  TimePoint expires_at{};       // `exp`
  std::string issuer;           // `iss`
  std::string audience;         // `aud` (a single string).
  bool email_verified = false;  // `email_verified` (OIDC name): purchases require it.
};

// Signs with the ring's active key. Precondition: the ring has an active key (throws
// std::logic_error otherwise: signing without a key is a wiring bug, not a runtime outcome).
std::string Sign(const Claims& claims, const Keyring& keyring);

struct VerifyOptions {
  std::string issuer;               // Must equal `iss` exactly.
  std::string audience;             // Must equal `aud` exactly.
  std::chrono::seconds leeway{30};  // Clock skew tolerated on exp/nbf/iat; clamped to [0, 60] s.
  std::string expected_type = std::string(kAccessType);  // Must equal the `typ` claim.
};

// Verifies `token` at time `now`. Every failure is Errc::kUnauthenticated with a short internal
// reason as the message (e.g. "bad signature", "expired"): log it, never show it to the client.
// Never throws on any input.
Result<Claims> Verify(std::string_view token, const Keyring& keyring, const VerifyOptions& options,
                      TimePoint now);

// Verify's expiry rule alone (exp plus the clamped leeway), for callers that re-check a token
// they verified earlier.
bool ExpiredAt(const Claims& claims, const VerifyOptions& options, TimePoint now);

}  // namespace rocketmart::auth

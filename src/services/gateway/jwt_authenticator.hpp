// The gateway's authenticator: verifies bearer access tokens (HS256, pinned per key id) and turns
// them into the Identity handed to every module. Services never parse tokens themselves.
// Every token that verifies is then checked against the deny-list (RevokedTokens: answered from
// memory, never blocking). Thread-safe: the keyring is immutable after construction; the
// deny-list is thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "auth/jwt.hpp"
#include "auth/verified_token_cache.hpp"
#include "core/clock.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/gateway/ports/token_denylist.hpp"

namespace rocketmart::gateway {

class JwtAuthenticator final : public http::Authenticator {
 public:
  // `revoked` must outlive the authenticator.
  JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options, const RevokedTokens& revoked,
                   const Clock& clock, metrics::Registry& metrics);
  Result<auth::Identity> Authenticate(std::string_view bearer_token) const override;

 private:
  const auth::VerifiedTokenCache<auth::Claims> verified_;
  const RevokedTokens& revoked_;
  const auth::Keyring keyring_;
  const auth::VerifyOptions options_;
  const Clock& clock_;
  metrics::Counter& rejected_;
};

}  // namespace rocketmart::gateway

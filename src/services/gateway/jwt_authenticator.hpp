// The gateway's authenticator: verifies bearer access tokens (HS256, pinned per key id) and turns
// them into the Identity handed to every module. Services never parse tokens themselves.
// Thread-safe: the keyring is immutable after construction.
#pragma once

#include <atomic>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::gateway {

class JwtAuthenticator final : public http::Authenticator {
 public:
  JwtAuthenticator(auth::Keyring keyring, auth::VerifyOptions options, const Clock& clock,
                   metrics::Registry& metrics);
  Result<auth::Identity> Authenticate(std::string_view bearer_token) const override;

 private:
  const auth::Keyring keyring_;
  const auth::VerifyOptions options_;
  const Clock& clock_;
  metrics::Counter& rejected_;
};

}  // namespace rocketmart::gateway

// How a service run on its own (`rocketmart serve --service <name>`, issue 15) authenticates a
// request: only by the internal identity the gateway signed (auth/internal_identity.hpp), read
// from the X-Rocketmart-Identity header (http::ServerOptions::identity_header). A member's access
// token never authenticates a service directly, and a forged or expired internal token answers
// 401 on every route. Thread-safe: the keyring is immutable after construction.
#pragma once

#include "auth/jwt.hpp"
#include "auth/verified_token_cache.hpp"
#include "core/clock.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::gateway {

class InternalIdentityAuthenticator final : public http::Authenticator {
 public:
  // `internal_keys`: auth.internal_secret's key, shared by the gateway and every service.
  InternalIdentityAuthenticator(auth::Keyring internal_keys, const Clock& clock,
                                metrics::Registry& metrics);
  Result<auth::Identity> Authenticate(std::string_view internal_token) const override;

 private:
  const auth::Keyring keys_;
  // The gateway sends one token for a while (auth::kInternalReuse): verified once per thread.
  const auth::VerifiedTokenCache<auth::Identity> verified_;
  const Clock& clock_;
  metrics::Counter& rejected_;
};

}  // namespace rocketmart::gateway

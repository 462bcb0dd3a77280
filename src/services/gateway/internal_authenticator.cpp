#include "services/gateway/internal_authenticator.hpp"

#include <spdlog/spdlog.h>

#include "auth/internal_identity.hpp"

namespace rocketmart::gateway {

InternalIdentityAuthenticator::InternalIdentityAuthenticator(auth::Keyring internal_keys,
                                                             const Clock& clock,
                                                             metrics::Registry& metrics)
    : keys_(std::move(internal_keys)),
      clock_(clock),
      rejected_(metrics.GetCounter("auth_internal_identities_rejected_total",
                                   "Internal identities (X-Rocketmart-Identity) that failed "
                                   "verification")) {}

Result<auth::Identity> InternalIdentityAuthenticator::Authenticate(
    std::string_view internal_token) const {
  auto identity = auth::VerifyInternalIdentity(internal_token, keys_, clock_.Now());
  if (!identity.ok()) {
    rejected_.Add();
    spdlog::debug("internal identity rejected: {}", identity.error().message);
  }
  return identity;
}

}  // namespace rocketmart::gateway

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
  const TimePoint now = clock_.Now();
  if (const auth::Identity* known = verified_.Find(internal_token)) {
    if (!auth::InternalIdentityExpired(*known, now)) return *known;
    verified_.Erase(internal_token);
  }
  auto identity = auth::VerifyInternalIdentity(internal_token, keys_, now);
  if (!identity.ok()) {
    rejected_.Add();
    spdlog::debug("internal identity rejected: {}", identity.error().message);
    return identity;
  }
  verified_.Insert(internal_token, *identity);
  return identity;
}

}  // namespace rocketmart::gateway

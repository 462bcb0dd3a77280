#include "services/gateway/module.hpp"

#include "services/gateway/adapters/in_memory_token_denylist.hpp"

namespace rocketmart::gateway {

GatewayModule::Stores GatewayModule::OpenStores(const config::Config&, const Clock& clock) {
  auto denylist = std::make_shared<InMemoryTokenDenylist>(clock);
  return Stores{.revoked = denylist, .denials = denylist};
}

namespace {
auth::VerifyOptions VerifyOptionsFrom(const config::Config& config) {
  auth::VerifyOptions options;
  options.issuer = config.auth.issuer;
  options.audience = config.auth.audience;
  options.leeway = std::chrono::seconds(config.auth.leeway_s);
  return options;
}
}  // namespace

GatewayModule::GatewayModule(const config::Config& config, const Clock& clock,
                             metrics::Registry& metrics, Stores stores, auth::Keyring keyring)
    : stores_(std::move(stores)),
      authenticator_(std::move(keyring), VerifyOptionsFrom(config), *stores_.revoked, clock,
                     metrics),
      revoker_(*stores_.denials) {}

}  // namespace rocketmart::gateway

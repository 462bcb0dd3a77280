#include "services/gateway/module.hpp"

#include <stdexcept>

#include "services/gateway/adapters/in_memory_rate_limiter.hpp"
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "services/gateway/adapters/redis/redis_rate_limiter.hpp"
#include "services/gateway/adapters/redis/redis_token_denylist.hpp"

namespace rocketmart::gateway {

GatewayModule::Stores GatewayModule::OpenStores(const config::Config&, const Clock& clock,
                                                module::SharedRedis* redis) {
  if (redis != nullptr) {
    auto denylist = std::make_shared<RedisTokenDenylist>(redis->client(), redis->executor(), clock,
                                                         redis->prefix());
    return Stores{.revoked = denylist,
                  .denials = denylist,
                  .redis = denylist,
                  .limiter = std::make_shared<RedisRateLimiter>(redis->client(), redis->prefix())};
  }
  auto denylist = std::make_shared<InMemoryTokenDenylist>(clock);
  return Stores{.revoked = denylist,
                .denials = denylist,
                .limiter = std::make_shared<InMemoryRateLimiter>(clock)};
}

void GatewayModule::Load() {
  if (!stores_.redis) return;
  stores_.redis->Start();
  if (!stores_.redis->WaitLoaded(std::chrono::seconds(5))) {
    throw std::runtime_error("gateway: the token deny-list could not be loaded from redis");
  }
}

void GatewayModule::StopWorkers() {
  if (stores_.redis) stores_.redis->Stop();
}

namespace {
auth::VerifyOptions VerifyOptionsFrom(const config::Config& config) {
  auth::VerifyOptions options;
  options.issuer = config.auth.issuer;
  options.audience = config.auth.audience;
  options.leeway = std::chrono::seconds(config.auth.leeway_s);
  return options;
}

RateLimits RateLimitsFrom(const config::Config& config) {
  const config::GatewayConfig& g = config.gateway;
  return RateLimits{
      .per_member = {.per_second = g.rate_per_member_per_s, .burst = g.burst_per_member},
      .per_address = {.per_second = g.rate_per_ip_per_s, .burst = g.burst_per_ip}};
}
}  // namespace

GatewayModule::GatewayModule(const config::Config& config, const Clock& clock,
                             metrics::Registry& metrics, Stores stores, auth::Keyring keyring)
    : stores_(std::move(stores)),
      authenticator_(std::move(keyring), VerifyOptionsFrom(config), *stores_.revoked, clock,
                     metrics),
      revoker_(*stores_.denials) {
  const RateLimits limits = RateLimitsFrom(config);
  if (limits.any() && stores_.limiter) {
    gate_ = std::make_unique<RateLimitGate>(*stores_.limiter, limits, metrics);
  }
}

}  // namespace rocketmart::gateway

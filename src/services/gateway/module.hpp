// The gateway's module (ADR 0008): the bearer-token authenticator every request passes, the
// token deny-list it checks, and the request rate limits (gate(): per member and per client
// address, [gateway] in the configuration). No database, routes, events or maintenance of its own.
// Serves members' TokenRevoker (in-process binding to the deny-list).
#pragma once

#include <memory>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "infra/module/redis.hpp"
#include "services/gateway/clients/in_process/token_revoker.hpp"
#include "services/gateway/jwt_authenticator.hpp"
#include "services/gateway/ports/request_rate_limiter.hpp"
#include "services/gateway/ports/token_denylist.hpp"
#include "services/gateway/rate_limit_gate.hpp"

namespace rocketmart::gateway {

class RedisTokenDenylist;

class GatewayModule final : public module::Module {
 public:
  // The deny-list: both sides of one store (in memory embedded; with the process's Redis, a local
  // replica fed by Redis shared by every gateway instance: `redis` then names it).
  struct Stores {
    std::shared_ptr<RevokedTokens> revoked;
    std::shared_ptr<TokenDenials> denials;
    std::shared_ptr<RedisTokenDenylist> redis;
    // The rate limits' counters: in memory, or in the process's Redis (shared by every gateway).
    std::shared_ptr<RequestRateLimiter> limiter;
  };
  static Stores OpenStores(const config::Config& config, const Clock& clock,
                           module::SharedRedis* redis = nullptr);

  // `keyring`: the keys access tokens are signed with (shared with members, which mints them).
  GatewayModule(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
                Stores stores, auth::Keyring keyring);

  // The deny-list's read side (the gateway's proxy catches it up after session-ending answers).
  const RevokedTokens& revoked_tokens() const { return *stores_.revoked; }
  // What the servers authenticate members with.
  const http::Authenticator& authenticator() const { return authenticator_; }
  // Served: members' TokenRevoker, bound in-process to the deny-list.
  members::TokenRevoker& token_revoker() { return revoker_; }
  // The rate limits every public request passes (http::Server::SetGate); nullptr when both
  // limits are off.
  const http::RequestGate* gate() const { return gate_.get(); }

  std::string_view Name() const override { return "gateway"; }
  std::vector<module::Database*> Databases() override { return {}; }
  // With Redis: subscribes and loads the replica (throws when it cannot within 5 s: a gateway
  // that has not loaded the denials could let a revoked token through).
  void Load() override;
  void StartWorkers() override {}
  void StopWorkers() override;
  std::vector<events::Subscription> Subscriptions() override { return {}; }
  void RegisterRoutes(http::Router&) override {}
  std::vector<module::PeriodicTask> PeriodicTasks() override { return {}; }
  boost::asio::awaitable<std::vector<module::StoreHealth>> CheckStores() override {
    co_return std::vector<module::StoreHealth>{};
  }

 private:
  Stores stores_;
  JwtAuthenticator authenticator_;
  InProcessTokenRevoker revoker_;
  std::unique_ptr<RateLimitGate> gate_;
};

}  // namespace rocketmart::gateway

#include "app/gateway_root.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "app/cluster_link.hpp"
#include "app/keys.hpp"
#include "app/ops_routes.hpp"
#include "app/service_root.hpp"
#include "app/startup.hpp"
#include "core/change_signal.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/redis.hpp"
#include "services/checkout/clients/redis/purchase_keys.hpp"
#include "services/gateway/module.hpp"
#include "services/gateway/proxy/proxy.hpp"
#include "services/gateway/proxy/route_table.hpp"
#include "services/storefront/module.hpp"

namespace rocketmart::app {

namespace {

// The gateway serves the storefront's pages; the live stock streams are checkout's (forwarded).
class NoStock final : public storefront::StockReader {
 public:
  std::optional<storefront::StockReading> Read(std::int64_t) const override { return std::nullopt; }
};

std::optional<http::Method> MethodOf(std::string_view name) {
  if (name == "get") return http::Method::get;
  if (name == "post") return http::Method::post;
  if (name == "put") return http::Method::put;
  if (name == "delete") return http::Method::delete_;
  if (name == "patch") return http::Method::patch;
  return std::nullopt;
}

}  // namespace

struct GatewayRoot::Parts {
  Parts(config::Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  ~Parts() {
    if (checkout_keys_redis) checkout_keys_redis->ReleaseLoops();
    admin.Stop();
    if (gateway) gateway->StopWorkers();
  }

  config::Config config;
  const Clock& clock;
  metrics::Registry metrics;
  std::optional<lock::FileLock> data_dir_lock;
  std::unique_ptr<module::SharedRedis> redis;
  // Checkout's key state, read from the request path over a connection per server loop (no hop
  // to the Redis thread), so a keyed sold-out answer is repeated here (docs/adr/0049).
  std::unique_ptr<module::SharedRedis> checkout_keys_redis;
  std::unique_ptr<checkout::RedisPurchaseKeys> purchase_keys;
  std::unique_ptr<gateway::GatewayModule> gateway;
  std::unique_ptr<ClusterLink> cluster;
  std::vector<std::unique_ptr<gateway::ProxyTarget>> targets;
  NoStock no_stock;
  ChangeSignal no_stock_changes;
  std::unique_ptr<storefront::StorefrontModule> storefront;

  AdminListener admin;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};
};

GatewayRoot::GatewayRoot(config::Config config, const Clock& clock)
    : parts_(std::make_unique<Parts>(std::move(config), clock)) {}

GatewayRoot::~GatewayRoot() = default;

void GatewayRoot::Start() {
  Parts& p = *parts_;
  const config::Config& config = p.config;
  RequireClusterConfig(config);
  auto member_keys = BuildSharedKeyring(config);
  if (!member_keys.ok()) throw std::runtime_error(member_keys.error().message);
  p.data_dir_lock = LockDataDirectory(config.storage.data_dir);
  // The deny-list every gateway reads, in Redis (members write it); exit 2 when Redis is unusable.
  p.redis = module::SharedRedis::Open(config.redis);

  p.gateway = std::make_unique<gateway::GatewayModule>(
      config, p.clock, p.metrics,
      gateway::GatewayModule::OpenStores(config, p.clock, p.redis.get()), std::move(*member_keys));
  // The deny-list's replica, loaded from Redis before anything is served.
  p.gateway->Load();
  p.server = std::make_unique<http::Server>(ServerOptionsFrom(config), p.router,
                                            p.gateway->authenticator(), p.metrics);
  p.server->SetGate(p.gateway->gate());  // the rate limits ([gateway])
  BindExclusively(*p.server, config.server.port);
  // Its own SharedRedis: the deny-list's took client() before the server's loops existed, so it
  // cannot serve them (SharedRedis::ServeLoops must come before any adapter takes the client).
  p.checkout_keys_redis = module::SharedRedis::Open(config.redis);
  p.checkout_keys_redis->ServeLoops(p.server->loop_executors());
  p.purchase_keys = std::make_unique<checkout::RedisPurchaseKeys>(p.checkout_keys_redis->client(),
                                                                  p.checkout_keys_redis->prefix());
  // Idle pooled connections to the services (and the key checks' Redis connection of each loop):
  // their timers would hold a draining loop until the grace period ends.
  p.server->OnLoopDrained([&p, loops = p.server->loop_executors()] {
    if (p.cluster) p.cluster->DropIdleConnectionsOfThisLoop(loops);
    p.checkout_keys_redis->LoopDrained();
  });
  p.admin.Open(config, p.metrics);

  p.cluster =
      std::make_unique<ClusterLink>(config, p.clock, p.metrics, *BuildInternalKeyring(config));
  std::map<std::string, gateway::ProxyTarget*, std::less<>> by_service;
  for (std::string_view name : kServiceNames) {
    const std::string service(name);
    ClusterLink* cluster = p.cluster.get();
    auto& target = p.targets.emplace_back(new gateway::ProxyTarget{
        .service = service,
        .client = cluster->Client(service),
        .instances = [cluster, service] { return cluster->Endpoints(service); },
        // The catalog's likes and products are per-instance views (kept current by events).
        .member_affinity = service == "catalog"});
    // Checkout's sold-out answers, repeated here (docs/adr/0048); to a purchase with an
    // Idempotency-Key once checkout's state says the key is unused (docs/adr/0049).
    target->shared_answers = std::make_unique<gateway::SharedAnswers>(&p.metrics.GetCounter(
        "gateway_shared_answers_total",
        "Answers the gateway repeated itself from a service's shared answer (docs/adr/0048)",
        "service=\"" + service + "\""));
    if (service == "checkout") target->purchase_keys = p.purchase_keys.get();
    by_service[service] = target.get();
  }

  // The API: every route of api/openapi.json a service owns, forwarded.
  const boost::json::value api = boost::json::parse(kOpenApiDocument);
  std::size_t forwarded = 0;
  for (const auto& [path, operations] : api.as_object().at("paths").as_object()) {
    const auto owner = gateway::OwnerOf(path);
    if (!owner) continue;
    gateway::ProxyTarget& target = *by_service.find(*owner)->second;
    for (const auto& [name, operation] : operations.as_object()) {
      const auto method = MethodOf(name);
      if (!method || !operation.is_object()) continue;
      const auto* security = operation.as_object().if_contains("security");
      const bool member = security && security->is_array() && !security->as_array().empty();
      http::RouteOptions options;
      // The member's token is verified here (an invalid one is refused here, as the embedded
      // server refuses it); the role, the query and the body are the service's to check.
      options.access = member ? http::Access::kMember : http::Access::kPublic;
      options.json_body = false;
      options.body = http::BodyRule::kJson;
      options.page = true;
      const bool stream = std::string_view(path).ends_with("/stream");
      std::string upper(name);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const gateway::RevokedTokens* catch_up =
          gateway::EndsSessions(upper, path) ? &p.gateway->revoked_tokens() : nullptr;
      p.router.Add(
          *method, std::string(path), std::move(options),
          gateway::ForwardTo(target, p.cluster->internal_keys(), p.clock, stream, catch_up));
      ++forwarded;
    }
  }

  // Its own: the storefront's pages and /time (the streams are checkout's), /health, the OpenAPI.
  p.storefront = std::make_unique<storefront::StorefrontModule>(
      config, p.clock, p.metrics,
      storefront::StorefrontModule::Clients{.stock = p.no_stock,
                                            .stock_changed = p.no_stock_changes});
  http::Router scratch;
  p.storefront->RegisterRoutes(scratch);
  for (const auto& route : scratch.routes()) {
    if (!gateway::OwnerOf(route->pattern)) {
      p.router.Add(route->method, route->pattern, route->options, route->handler);
    }
  }
  StoreCheck redis_only = [&p]() -> boost::asio::awaitable<std::vector<StoreHealth>> {
    StoreHealth redis = co_await p.redis->Health();
    co_return std::vector<StoreHealth>{std::move(redis)};
  };
  RegisterOpsRoutes(
      p.router, [&p] { return p.ready.load(); }, std::move(redis_only));
  RegisterBuildInfo(p.metrics);

  p.server->SealRoutes();
  p.ready = true;
  spdlog::info("gateway: {} routes forwarded to the services", forwarded);
  p.admin.Announce(config);
  std::printf("rocketmart gateway: %zu routes forwarded\n", forwarded);
  std::printf("rocketmart listening on http://%s:%u\n", config.server.host.c_str(),
              static_cast<unsigned>(p.server->port()));
  std::fflush(stdout);
}

std::uint16_t GatewayRoot::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

void GatewayRoot::Run() {
  Parts& p = *parts_;
  p.admin.Start();
  p.server->Run();
  p.ready = false;
  p.checkout_keys_redis->ReleaseLoops();            // the loops stopped
  if (p.cluster) p.cluster->DropIdleConnections();  // they belong to the server's loops
  p.admin.Stop();  // metrics stayed scrapable while the public server drained
}

void GatewayRoot::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace rocketmart::app

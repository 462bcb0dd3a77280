#include "app/service_root.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "app/cluster_link.hpp"
#include "app/keys.hpp"
#include "app/ops_routes.hpp"
#include "app/periodic_tasks.hpp"
#include "app/startup.hpp"
#include "auth/internal_identity.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/redis.hpp"
#include "services/catalog/clients/http/clients.hpp"
#include "services/catalog/module.hpp"
#include "services/checkout/clients/http/clients.hpp"
#include "services/checkout/clients/in_process/stock_reader.hpp"
#include "services/checkout/module.hpp"
#include "services/gateway/internal_authenticator.hpp"
#include "services/gateway/module.hpp"
#include "services/members/module.hpp"
#include "services/orders/clients/http/orders_client.hpp"
#include "services/orders/module.hpp"
#include "services/storefront/module.hpp"

namespace rocketmart::app {

bool IsServiceName(std::string_view name) {
  for (std::string_view s : kServiceNames) {
    if (s == name) return true;
  }
  return false;
}

void RequireClusterConfig(const config::Config& config) {
  if (auto keys = BuildInternalKeyring(config); !keys.ok()) {
    throw std::runtime_error(keys.error().message);
  }
  if (config.redis.url.empty()) {
    throw std::runtime_error(
        "services run apart pass events through Redis Streams: set redis.url "
        "(ROCKETMART_REDIS_URL), e.g. redis://127.0.0.1:6379");
  }
  if (config.discovery.etcd_url.empty()) {
    throw std::runtime_error(
        "services run apart find each other through etcd: set discovery.etcd_url "
        "(ROCKETMART_DISCOVERY_ETCD_URL), e.g. http://127.0.0.1:2379");
  }
}

namespace {

bool IsStreamRoute(std::string_view pattern) {
  return pattern.ends_with("/stream");
}

}  // namespace

struct ServiceRoot::Parts {
  Parts(config::Config c, const Clock& clk, std::string s)
      : config(std::move(c)), clock(clk), service(std::move(s)) {}
  ~Parts() {
    admin.Stop();
    remote_calls.Stop();
    maintenance.Stop();
    if (event_bus) event_bus->Stop();
    if (storefront) storefront->StopWorkers();
    if (module) module->StopWorkers();
    for (module::Database* db : databases) {
      if (db->sqlite) db->sqlite->writer->Stop();
    }
    if (signals_thread.joinable()) {
      signals_io.stop();
      signals_thread.join();
    }
    // The server (its loops) goes before the client: the client lets go of its loops' connections
    // first (a start that failed before Run() never ran them).
    if (redis) redis->ReleaseLoops();
  }

  config::Config config;
  const Clock& clock;
  const std::string service;
  metrics::Registry metrics;
  std::optional<lock::FileLock> data_dir_lock;

  // Peers (etcd, one HTTP client each) and the bindings of the ports the module calls: declared
  // before the module, so they outlive it.
  std::unique_ptr<module::SharedRedis> redis;  // destroyed after everything that uses it
  std::unique_ptr<ClusterLink> cluster;
  std::unique_ptr<gateway::GatewayModule::Stores> deny_list;  // members: the shared deny-list
  std::unique_ptr<gateway::InProcessTokenRevoker> revoker;
  std::unique_ptr<orders::HttpOrdersClient> orders_client;
  std::unique_ptr<catalog::HttpLikesClient> likes_client;
  std::unique_ptr<catalog::HttpWishlistClient> wishlist_client;
  std::unique_ptr<checkout::HttpAvailability> availability;
  std::unique_ptr<checkout::HttpCheckoutClient> cart_checkout;
  std::unique_ptr<checkout::HttpPaymentsClient> payments;
  std::unique_ptr<checkout::HttpSaleFigures> sale_figures;
  std::unique_ptr<catalog::HttpProductDirectory> product_directory;

  std::unique_ptr<module::Module> module;
  std::vector<module::Database*> databases;
  // checkout only: the live stock streams over its memory (a product checkout holds no stock for
  // is unknown: checkout learns every product from the catalog's events).
  std::unique_ptr<checkout::InProcessStockReader> stock_reader;
  std::unique_ptr<storefront::StorefrontModule> storefront;

  // The Redis Streams bus over the module's outbox, and its view of each database.
  std::vector<std::unique_ptr<events::sqlite_outbox::SqliteOutboxSource>> sqlite_outboxes;
  std::vector<std::unique_ptr<events::sqlite_outbox::SqliteConsumerStore>> sqlite_consumers;
  std::unique_ptr<events::redis_streams::RedisStreamsEventBus> event_bus;
  PeriodicTasks maintenance{"periodic"};
  PeriodicTasks remote_calls{"provider-tasks"};

  std::unique_ptr<gateway::InternalIdentityAuthenticator> authenticator;
  AdminListener admin;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};

  // SIGTERM/SIGINT: deregister, then drain.
  boost::asio::io_context signals_io{1};
  std::thread signals_thread;
};

ServiceRoot::ServiceRoot(config::Config config, const Clock& clock, std::string service)
    : parts_(std::make_unique<Parts>(std::move(config), clock, std::move(service))) {}

ServiceRoot::~ServiceRoot() = default;

void ServiceRoot::Start() {
  Parts& p = *parts_;
  const config::Config& config = p.config;
  if (!IsServiceName(p.service)) throw std::runtime_error("unknown service " + p.service);
  RequireClusterConfig(config);
  auth::Keyring member_keys;
  if (p.service == "members") {
    auto keys = BuildSharedKeyring(config);
    if (!keys.ok()) throw std::runtime_error(keys.error().message);
    member_keys = std::move(*keys);
    if (config.members.data_key.empty()) {
      throw std::runtime_error(
          "members run apart need members.data_key (ROCKETMART_MEMBERS_DATA_KEY or "
          "ROCKETMART_MEMBERS_DATA_KEY_FILE): every instance seals personal data with the same "
          "key");
    }
  }
  p.data_dir_lock = LockDataDirectory(config.storage.data_dir);
  // Redis answers and will not evict, or the start is refused (exit 2): shared admission
  // (checkout), throttles (members), the deny-list (members write it), the bus's endpoint.
  p.redis = module::SharedRedis::Open(config.redis);

  // The listeners: identity only from the gateway's internal header.
  p.authenticator = std::make_unique<gateway::InternalIdentityAuthenticator>(
      *BuildInternalKeyring(config), p.clock, p.metrics);
  http::ServerOptions options = ServerOptionsFrom(config);
  options.identity_header = std::string(auth::kInternalIdentityHeader);
  options.handle_signals = false;  // Run() deregisters before the drain
  options.name = "public";
  p.server =
      std::make_unique<http::Server>(std::move(options), p.router, *p.authenticator, p.metrics);
  BindExclusively(*p.server, config.server.port);
  // Commands from the request path go over a Redis connection of their own loop (no hop to the
  // Redis thread and back: the drop's sold-out answers, admission, the gate); each is closed as
  // its loop drains, and let go once the loops stopped (Run, ~Parts).
  p.redis->ServeLoops(p.server->loop_executors());
  p.server->OnLoopDrained([&p, loops = p.server->loop_executors()] {
    p.redis->LoopDrained();
    // Idle pooled connections to peers: their idle timers would hold the loop until the grace.
    if (p.cluster) p.cluster->DropIdleConnectionsOfThisLoop(loops);
  });
  p.admin.Open(config, p.metrics);

  p.cluster =
      std::make_unique<ClusterLink>(config, p.clock, p.metrics, *BuildInternalKeyring(config));
  ClusterLink& cluster = *p.cluster;

  // The stores, then the module with HTTP bindings of the ports it calls.
  if (p.service == "members") {
    auto stores = members::MembersModule::OpenStores(config, p.clock, p.metrics, p.redis.get());
    // The gateway's deny-list store (shared through Redis when the gateway's stores use it).
    p.deny_list = std::make_unique<gateway::GatewayModule::Stores>(
        gateway::GatewayModule::OpenStores(config, p.clock, p.redis.get()));
    p.revoker = std::make_unique<gateway::InProcessTokenRevoker>(*p.deny_list->denials);
    p.orders_client = std::make_unique<orders::HttpOrdersClient>(cluster.Peer("orders"));
    p.likes_client = std::make_unique<catalog::HttpLikesClient>(cluster.Peer("catalog"));
    p.wishlist_client = std::make_unique<catalog::HttpWishlistClient>(cluster.Peer("catalog"));
    std::string public_base_url = config.members.public_base_url;
    if (public_base_url.empty()) {
      public_base_url = DefaultPublicBaseUrl(config.server.host, p.server->port());
      spdlog::warn(
          "members.public_base_url is unset: mailed links point at this instance ({}), not at the "
          "gateway",
          public_base_url);
    }
    p.module = std::make_unique<members::MembersModule>(
        config, p.clock, p.metrics, std::move(stores),
        members::MembersModule::Clients{.revoker = *p.revoker,
                                        .orders = *p.orders_client,
                                        .wishlist = *p.wishlist_client,
                                        .likes = *p.likes_client},
        std::move(member_keys), std::move(public_base_url));
  } else if (p.service == "catalog") {
    auto stores = catalog::CatalogModule::OpenStores(config, p.metrics);
    p.availability = std::make_unique<checkout::HttpAvailability>(cluster.Peer("checkout"));
    p.cart_checkout = std::make_unique<checkout::HttpCheckoutClient>(cluster.Peer("checkout"));
    p.module = std::make_unique<catalog::CatalogModule>(
        p.clock, std::move(stores),
        catalog::CatalogModule::Clients{.availability = *p.availability,
                                        .checkout = *p.cart_checkout});
  } else if (p.service == "checkout") {
    auto stores = checkout::CheckoutModule::OpenStores(config, p.metrics, p.redis.get());
    p.product_directory = std::make_unique<catalog::HttpProductDirectory>(cluster.Peer("catalog"));
    auto module = std::make_unique<checkout::CheckoutModule>(
        config, p.clock, p.metrics, std::move(stores),
        checkout::CheckoutModule::Clients{.catalog = *p.product_directory},
        StableInstanceName(config.storage.data_dir));
    checkout::CheckoutService& checkout = module->checkout();
    p.module = std::move(module);
    p.stock_reader = std::make_unique<checkout::InProcessStockReader>(checkout, p.clock);
    p.storefront = std::make_unique<storefront::StorefrontModule>(
        config, p.clock, p.metrics,
        storefront::StorefrontModule::Clients{.stock = *p.stock_reader,
                                              .stock_changed = checkout.stock_signal()});
  } else {  // orders
    auto stores = orders::OrdersModule::OpenStores(config, p.metrics);
    p.payments = std::make_unique<checkout::HttpPaymentsClient>(cluster.Peer("checkout"));
    p.sale_figures = std::make_unique<checkout::HttpSaleFigures>(cluster.Peer("checkout"));
    p.module = std::make_unique<orders::OrdersModule>(
        config, p.clock, p.metrics, std::move(stores),
        orders::OrdersModule::Clients{.payments = *p.payments, .sale_figures = *p.sale_figures});
  }
  module::Module& m = *p.module;
  p.databases = m.Databases();

  // Events: the module's outbox relayed to its stream; the sources it subscribes to are relayed by
  // their own processes.
  events::redis_streams::RedisStreamsEventBusOptions bus_options;
  // Named after the data directory, not the port: a restart (a new port) takes back at once what
  // its killed predecessor's consumers had read and not acknowledged (StableInstanceName).
  bus_options.instance = p.service + "@" + StableInstanceName(config.storage.data_dir);
  bus_options.key_prefix = p.redis->prefix();
  p.event_bus = std::make_unique<events::redis_streams::RedisStreamsEventBus>(p.redis->endpoint(),
                                                                              p.clock, bus_options);
  for (module::Database* db : p.databases) {
    if (db->sqlite) {
      auto& outbox = p.sqlite_outboxes.emplace_back(
          std::make_unique<events::sqlite_outbox::SqliteOutboxSource>(
              db->sqlite->name, *db->sqlite->writer, *db->sqlite->readers));
      auto& consumer = p.sqlite_consumers.emplace_back(
          std::make_unique<events::sqlite_outbox::SqliteConsumerStore>(
              db->sqlite->name, *db->sqlite->writer, *db->sqlite->readers));
      p.event_bus->AddProducer(*outbox);
      p.event_bus->AddConsumer(*consumer);
    } else {
      p.event_bus->AddProducer(db->postgres->outbox());
      p.event_bus->AddConsumer(db->postgres->consumer());
    }
    RegisterEventMetrics(p.metrics, *p.event_bus, db->name());
    RegisterStreamMetrics(p.metrics, *p.event_bus, db->name());
  }
  std::vector<events::Subscription> subscriptions = m.Subscriptions();
  std::set<std::string> sources;
  for (const events::Subscription& s : subscriptions) sources.insert(s.source);
  for (const std::string& source : sources) {
    bool own = false;
    for (module::Database* db : p.databases) own = own || db->name() == source;
    if (!own) p.event_bus->AddSource(source);
  }
  std::set<std::pair<std::string, std::string>> lag_series;
  for (const events::Subscription& s : subscriptions) {
    if (lag_series.emplace(s.source, s.subscriber->Name()).second) {
      RegisterStreamSubscriptionMetrics(p.metrics, *p.event_bus, s);
    }
    p.event_bus->Subscribe(s);
  }

  for (module::Database* db : p.databases) {
    if (db->sqlite) db->sqlite->writer->Start();
  }
  m.Load();
  m.StartWorkers();
  if (p.storefront) p.storefront->StartWorkers();
  p.event_bus->Start();

  // Routes: the module's, checkout's live stock streams, the ops routes.
  m.RegisterRoutes(p.router);
  if (p.storefront) {
    http::Router scratch;
    p.storefront->RegisterRoutes(scratch);
    for (const auto& route : scratch.routes()) {
      if (IsStreamRoute(route->pattern)) {
        p.router.Add(route->method, route->pattern, route->options, route->handler);
      }
    }
  }
  StoreCheck check_stores = [&p]() -> boost::asio::awaitable<std::vector<StoreHealth>> {
    std::vector<StoreHealth> stores = co_await p.module->CheckStores();
    StoreHealth redis = co_await p.redis->Health();
    stores.push_back(std::move(redis));
    co_return stores;
  };
  RegisterOpsRoutes(
      p.router, [&p] { return p.ready.load(); }, std::move(check_stores));
  RegisterBuildInfo(p.metrics);

  std::vector<module::PeriodicTask> tasks;
  tasks.push_back(
      ProcessedEventsRetention(p.databases, p.clock, config.storage.processed_events_ttl_s));
  for (module::PeriodicTask& t : m.PeriodicTasks()) tasks.push_back(std::move(t));
  SchedulePeriodicTasks(std::move(tasks), p.maintenance, p.remote_calls);
  p.maintenance.Start();
  p.remote_calls.Start();

  p.server->SealRoutes();
  p.ready = true;
  // Listed once everything above serves.
  p.cluster->Register(p.service, p.server->port());
  p.admin.Announce(config);
  std::printf("rocketmart service %s registered in etcd\n", p.service.c_str());
  std::printf("rocketmart listening on http://%s:%u\n", config.server.host.c_str(),
              static_cast<unsigned>(p.server->port()));
  std::fflush(stdout);
  spdlog::info("{} listening on {}:{} (data dir {})", p.service, config.server.host,
               p.server->port(), config.storage.data_dir);
}

std::uint16_t ServiceRoot::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

void ServiceRoot::Run() {
  Parts& p = *parts_;
  p.admin.Start();
  // SIGTERM/SIGINT: out of etcd first, a grace for the calls already routed here, then drain.
  boost::asio::signal_set signals(p.signals_io, SIGTERM, SIGINT);
  signals.async_wait([&p](const boost::system::error_code& ec, int) {
    if (ec) return;
    spdlog::info("shutdown: deregistering, then draining");
    p.ready = false;
    p.cluster->Deregister();
    std::this_thread::sleep_for(kDeregisterGrace);
    p.server->Shutdown();
  });
  p.signals_thread = std::thread([&p] { p.signals_io.run(); });
  p.server->Run();
  p.ready = false;
  if (p.cluster) p.cluster->DropIdleConnections();  // they belong to the server's loops
  p.redis->ReleaseLoops();                          // so do these
  signals.cancel();
  p.signals_io.stop();
  if (p.signals_thread.joinable()) p.signals_thread.join();
  p.admin.Stop();  // metrics stayed scrapable while the public server drained
}

void ServiceRoot::Shutdown() {
  Parts& p = *parts_;
  if (p.cluster) p.cluster->Deregister();
  if (p.server) p.server->Shutdown();
}

}  // namespace rocketmart::app

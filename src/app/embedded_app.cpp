#include "app/embedded_app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

#include "app/demo_seed.hpp"
#include "app/keys.hpp"
#include "app/ops_routes.hpp"
#include "app/periodic_tasks.hpp"
#include "app/startup.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/redis.hpp"
#include "infra/storage/service_database.hpp"
#include "services/catalog/clients/in_process/product_directory.hpp"
#include "services/catalog/module.hpp"
#include "services/checkout/clients/in_process/stock_reader.hpp"
#include "services/checkout/module.hpp"
#include "services/gateway/module.hpp"
#include "services/members/module.hpp"
#include "services/orders/module.hpp"
#include "services/storefront/module.hpp"

namespace rocketmart::app {

// The live stream reads checkout's in-memory stock and sale for the products the catalog knows:
// the embedded binding of the storefront's StockReader. It joins two services, so it lives here.
class CheckoutStockReader final : public storefront::StockReader {
 public:
  CheckoutStockReader(const catalog::CatalogService& catalog,
                      const checkout::CheckoutService& checkout, const Clock& clock)
      : catalog_(catalog), checkout_(checkout), clock_(clock) {}

  std::optional<storefront::StockReading> Read(std::int64_t product_id) const override {
    if (!catalog_.Exists(product_id)) return std::nullopt;
    return checkout::ReadingOf(checkout_, product_id, clock_.Now());
  }

 private:
  const catalog::CatalogService& catalog_;
  const checkout::CheckoutService& checkout_;
  const Clock& clock_;
};

struct EmbeddedApp::Parts {
  Parts(config::Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  // Stop, in reverse of the start: the admin listener (the public one stopped in Run), the
  // periodic tasks, the bus, the modules' workers, the writers; then the members below are
  // destroyed in reverse order of declaration: the modules last built first, their databases
  // closed with them.
  ~Parts() {
    admin.Stop();
    remote_calls.Stop();
    maintenance.Stop();
    // The bus first, so nothing delivers into a stopped writer; then the SQLite writers drain
    // (a PostgreSQL database has nothing to stop: its pools close with its module).
    if (event_bus) event_bus->Stop();
    for (auto it = modules.rbegin(); it != modules.rend(); ++it) (*it)->StopWorkers();
    for (module::Database* db : databases) {
      if (db->sqlite) db->sqlite->writer->Stop();
    }
  }

  config::Config config;
  const Clock& clock;
  metrics::Registry metrics;
  std::optional<lock::FileLock> data_dir_lock;  // Held until the process exits.
  // The process's Redis (redis.url), shared by the modules' adapters: destroyed after them.
  std::unique_ptr<module::SharedRedis> redis;

  // The modules, in the order they are built (each after the modules whose client ports it
  // calls), and every database they own (SQLite or PostgreSQL), in the order they opened. The
  // catalog's product directory is made before checkout, which calls it, and bound to the catalog
  // once it exists (the one cycle between modules).
  std::unique_ptr<gateway::GatewayModule> gateway;
  catalog::InProcessProductDirectory product_directory;
  std::unique_ptr<checkout::CheckoutModule> checkout;
  std::unique_ptr<catalog::CatalogModule> catalog;
  std::unique_ptr<orders::OrdersModule> orders;
  std::unique_ptr<members::MembersModule> members;
  std::vector<module::Module*> modules;
  std::vector<module::Database*> databases;

  // One bus over every service's outbox, whatever engine keeps it: in process (events.transport
  // outbox), or through Redis Streams (redis-streams), which reads a SQLite database through the
  // wrappers below (a PostgreSQL one has its own).
  std::vector<std::unique_ptr<events::OutboxSource>> sqlite_sources;
  std::vector<std::unique_ptr<events::ConsumerStore>> sqlite_consumers;
  std::unique_ptr<events::EventBus> event_bus;
  // The modules' periodic tasks: the store-only ones on one thread, those that wait for another
  // system (the payment provider) on their own, so a stall there delays no expiry.
  PeriodicTasks maintenance{"periodic"};
  PeriodicTasks remote_calls{"provider-tasks"};

  // The admin listener (GET /metrics) on its own port and thread; null when server.admin_port
  // is -1.
  AdminListener admin;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};
  // Last: the stream hub posts to the server's threads, so the storefront goes first.
  std::unique_ptr<CheckoutStockReader> stock_reader;
  std::unique_ptr<storefront::StorefrontModule> storefront;
};

EmbeddedApp::EmbeddedApp(config::Config config, const Clock& clock)
    : parts_(std::make_unique<Parts>(std::move(config), clock)) {}

EmbeddedApp::~EmbeddedApp() = default;

namespace {

auth::Keyring SigningKeys(const config::Config& config) {
  auto keyring = BuildKeyring(config);
  if (!keyring.ok()) throw std::runtime_error("auth key: " + keyring.error().message);
  return std::move(*keyring);
}

// Seeds the demo (an empty catalog only) and shows its accounts once, on stdout.
void SeedDemo(const config::Config& config, const Clock& clock, catalog::CatalogService& catalog,
              checkout::CheckoutService& checkout, members::MembersModule& members) {
  const auto seeded = SeedDemoCatalog(catalog, checkout, clock.Now());
  if (seeded.empty()) return;
  spdlog::info("demo: seeded {} products with open sales into an empty catalog", seeded.size());
  std::printf("Demo catalog seeded (%zu products, sales open for 30 days).\n", seeded.size());
  // Real accounts with passwords generated for this data directory: shown once here (stdout, not
  // the log) and kept in a 0600 file under the data directory.
  const std::filesystem::path data_dir(config.storage.data_dir);
  if (const auto accounts = SeedDemoAccounts(members.member_repository(), members.password_hasher(),
                                             data_dir, clock.Now())) {
    spdlog::info("demo: created the demo admin (member {}) and buyer (member {}); see {}",
                 accounts->admin.id, accounts->buyer.id, accounts->file.string());
    std::printf(
        "Demo accounts (passwords generated for this data directory, kept in %s):\n"
        "  admin  member %lld  %s  password %s\n"
        "  buyer  member %lld  %s  password %s  (verified)\n"
        "Log in with POST /auth/login, or mint a token:\n"
        "  build/rocketmart token --data-dir %s --member %lld\n",
        accounts->file.c_str(), static_cast<long long>(accounts->admin.id),
        accounts->admin.email.c_str(), accounts->admin.password.c_str(),
        static_cast<long long>(accounts->buyer.id), accounts->buyer.email.c_str(),
        accounts->buyer.password.c_str(), config.storage.data_dir.c_str(),
        static_cast<long long>(accounts->buyer.id));
  }
}

}  // namespace

void EmbeddedApp::Start() {
  Parts& p = *parts_;
  const config::Config& config = p.config;
  // Who owns what, before anything is written: the data directory (for the process lifetime),
  // then the port. A second server on either refuses here, before the demo seed and the banner.
  p.data_dir_lock = LockDataDirectory(config.storage.data_dir);
  // Redis (when configured) answers and will not evict, or the start is refused (exit 2).
  if (!config.redis.url.empty()) p.redis = module::SharedRedis::Open(config.redis);

  // The gateway authenticates every request on the listeners.
  p.gateway = std::make_unique<gateway::GatewayModule>(
      config, p.clock, p.metrics,
      gateway::GatewayModule::OpenStores(config, p.clock, p.redis.get()), SigningKeys(config));
  p.server = std::make_unique<http::Server>(ServerOptionsFrom(config), p.router,
                                            p.gateway->authenticator(), p.metrics);
  p.server->SetGate(p.gateway->gate());  // the rate limits ([gateway])
  BindExclusively(*p.server, config.server.port);
  p.admin.Open(config, p.metrics);

  // 1. Open and migrate every store, in this order: a start-up refused for a store names the
  // first one that cannot write.
  auto catalog_stores = catalog::CatalogModule::OpenStores(config, p.metrics);
  auto members_stores =
      members::MembersModule::OpenStores(config, p.clock, p.metrics, p.redis.get());
  auto checkout_stores = checkout::CheckoutModule::OpenStores(config, p.metrics, p.redis.get());
  auto orders_stores = orders::OrdersModule::OpenStores(config, p.metrics);

  // Then the modules, each after those whose client ports it calls, bound in-process.
  p.checkout = std::make_unique<checkout::CheckoutModule>(
      config, p.clock, p.metrics, std::move(checkout_stores),
      checkout::CheckoutModule::Clients{.catalog = p.product_directory},
      StableInstanceName(config.storage.data_dir));
  p.catalog = std::make_unique<catalog::CatalogModule>(
      p.clock, std::move(catalog_stores),
      catalog::CatalogModule::Clients{.availability = p.checkout->availability(),
                                      .checkout = p.checkout->cart_checkout_client()});
  p.product_directory.Bind(p.catalog->catalog());
  p.orders = std::make_unique<orders::OrdersModule>(
      config, p.clock, p.metrics, std::move(orders_stores),
      orders::OrdersModule::Clients{.payments = p.checkout->payments_client(),
                                    .sale_figures = p.checkout->sale_figures()});
  std::string public_base_url = config.members.public_base_url;
  if (public_base_url.empty()) {
    // The port is bound already (server.port 0 has picked one).
    public_base_url = DefaultPublicBaseUrl(config.server.host, p.server->port());
  }
  p.members = std::make_unique<members::MembersModule>(
      config, p.clock, p.metrics, std::move(members_stores),
      members::MembersModule::Clients{.revoker = p.gateway->token_revoker(),
                                      .orders = p.orders->orders_client(),
                                      .wishlist = p.catalog->wishlist_client(),
                                      .likes = p.catalog->likes_client()},
      SigningKeys(config), std::move(public_base_url));
  checkout::CheckoutService& checkout = p.checkout->checkout();
  p.stock_reader = std::make_unique<CheckoutStockReader>(p.catalog->catalog(), checkout, p.clock);
  p.storefront = std::make_unique<storefront::StorefrontModule>(
      config, p.clock, p.metrics,
      storefront::StorefrontModule::Clients{.stock = *p.stock_reader,
                                            .stock_changed = checkout.stock_signal()});
  p.modules = {p.gateway.get(), p.checkout.get(), p.catalog.get(),
               p.orders.get(),  p.members.get(),  p.storefront.get()};
  // Every database, in the order they opened, but the consumers' last (writers start and stop,
  // and the bus adds them, in this order).
  for (module::Module* m :
       {static_cast<module::Module*>(p.catalog.get()),
        static_cast<module::Module*>(p.members.get()), static_cast<module::Module*>(p.orders.get()),
        static_cast<module::Module*>(p.checkout.get())}) {
    for (module::Database* db : m->Databases()) p.databases.push_back(db);
  }

  // Events between the services: every service database is a source (its outbox) and a consumer
  // (positions, claims, dead letters) on the one bus: a SQLite one by its writer and readers, a
  // PostgreSQL one by its outbox source and consumer store (services on both engines may run in
  // one process).
  events::redis_streams::RedisStreamsEventBus* streams = nullptr;
  if (config.events.transport == "redis-streams") {
    events::redis_streams::RedisStreamsEventBusOptions options;
    options.key_prefix = p.redis->prefix();
    options.instance = StableInstanceName(config.storage.data_dir);
    auto bus = std::make_unique<events::redis_streams::RedisStreamsEventBus>(p.redis->endpoint(),
                                                                             p.clock, options);
    for (module::Database* db : p.databases) {
      if (db->sqlite) {
        storage::ServiceDatabase& sqlite = *db->sqlite;
        p.sqlite_sources.push_back(std::make_unique<events::sqlite_outbox::SqliteOutboxSource>(
            sqlite.name, *sqlite.writer, *sqlite.readers));
        p.sqlite_consumers.push_back(std::make_unique<events::sqlite_outbox::SqliteConsumerStore>(
            sqlite.name, *sqlite.writer, *sqlite.readers));
        bus->AddProducer(*p.sqlite_sources.back());
        bus->AddConsumer(*p.sqlite_consumers.back());
      } else {
        bus->AddProducer(db->postgres->outbox());
        bus->AddConsumer(db->postgres->consumer());
      }
    }
    streams = bus.get();
    p.event_bus = std::move(bus);
  } else {
    auto bus = std::make_unique<events::sqlite_outbox::SqliteEventBus>(p.clock);
    for (module::Database* db : p.databases) {
      if (db->sqlite) {
        bus->AddService(db->sqlite->name, *db->sqlite->writer, *db->sqlite->readers);
      } else {
        bus->AddService(db->postgres->outbox(), db->postgres->consumer());
      }
    }
    p.event_bus = std::move(bus);
  }
  for (module::Database* db : p.databases) {
    RegisterEventMetrics(p.metrics, *p.event_bus, db->name());
    if (streams) RegisterStreamMetrics(p.metrics, *streams, db->name());
  }
  std::set<std::pair<std::string, std::string>> lag_series;
  for (module::Module* m : p.modules) {
    for (const events::Subscription& s : m->Subscriptions()) {
      if (streams && lag_series.emplace(s.source, s.subscriber->Name()).second) {
        RegisterStreamSubscriptionMetrics(p.metrics, *streams, s);
      }
      p.event_bus->Subscribe(s);
    }
  }

  // 2. Load (the writers first: services load through them), 3. the modules' workers, 4. the
  // bus (it delivers into loaded services).
  for (module::Database* db : p.databases) {
    if (db->sqlite) db->sqlite->writer->Start();
  }
  for (module::Module* m : p.modules) m->Load();
  for (module::Module* m : p.modules) m->StartWorkers();
  p.event_bus->Start();
  if (config.demo.seed) SeedDemo(config, p.clock, p.catalog->catalog(), checkout, *p.members);

  // 5. Routes, maintenance, then serve.
  for (module::Module* m : p.modules) m->RegisterRoutes(p.router);
  // /health's look at every store; the closure lives in the router, as long as the coroutines
  // it starts.
  StoreCheck check_stores = [&p]() -> boost::asio::awaitable<std::vector<StoreHealth>> {
    std::vector<StoreHealth> stores;
    for (module::Module* m : p.modules) {
      std::vector<StoreHealth> own = co_await m->CheckStores();
      stores.insert(stores.end(), own.begin(), own.end());
    }
    if (p.redis) {
      StoreHealth redis = co_await p.redis->Health();
      stores.push_back(std::move(redis));
    }
    co_return stores;
  };
  RegisterOpsRoutes(
      p.router, [&p] { return p.ready.load(); }, std::move(check_stores));
  RegisterBuildInfo(p.metrics);

  std::vector<module::PeriodicTask> tasks;
  tasks.push_back(
      ProcessedEventsRetention(p.databases, p.clock, p.config.storage.processed_events_ttl_s));
  for (module::Module* m : p.modules) {
    for (module::PeriodicTask& t : m->PeriodicTasks()) tasks.push_back(std::move(t));
  }
  SchedulePeriodicTasks(std::move(tasks), p.maintenance, p.remote_calls);
  p.maintenance.Start();
  p.remote_calls.Start();

  // Every route is registered: their metrics series exist before anyone is told we are up.
  p.server->SealRoutes();
  p.admin.Announce(config);
  p.ready = true;
  std::printf("rocketmart listening on http://%s:%u\n", config.server.host.c_str(),
              static_cast<unsigned>(p.server->port()));
  std::fflush(stdout);
  spdlog::info("listening on {}:{} (data dir {})", config.server.host, p.server->port(),
               config.storage.data_dir);
}

std::uint16_t EmbeddedApp::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

void EmbeddedApp::Run() {
  Parts& p = *parts_;
  p.admin.Start();
  p.server->Run();
  p.ready = false;
  // Metrics stay scrapable while the public server drains; then the admin listener stops too.
  p.admin.Stop();
}

void EmbeddedApp::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace rocketmart::app

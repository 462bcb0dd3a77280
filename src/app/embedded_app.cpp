#include "app/embedded_app.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>

#include "app/demo_seed.hpp"
#include "app/in_process_clients.hpp"
#include "app/keys.hpp"
#include "app/ops_gauges.hpp"
#include "app/ops_routes.hpp"
#include "app/periodic_tasks.hpp"
#include "app/startup.hpp"
#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/service_database.hpp"
#include "services/catalog/api/events.hpp"
#include "services/catalog/module.hpp"
#include "services/checkout/adapters/catalog_subscriber.hpp"
#include "services/checkout/adapters/http_routes.hpp"
#include "services/checkout/adapters/order_events_subscriber.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/adapters/sqlite_inventory_store.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/gateway/module.hpp"
#include "services/members/module.hpp"
#include "services/orders/api/events.hpp"
#include "services/orders/module.hpp"
#include "services/storefront/module.hpp"

namespace rocketmart::app {

// The operator's per-sale summary reads checkout's figures in-process (embedded binding).
class CheckoutSaleFigures final : public orders::SaleFiguresSource {
 public:
  explicit CheckoutSaleFigures(const checkout::CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> Figures(
      std::int64_t product_id) override {
    auto f = checkout_.SaleFigures(product_id);
    std::optional<orders::SaleFigures> out;
    if (f) {
      out = orders::SaleFigures{f->available,      f->held,    f->sold,
                                f->refunded_units, f->revenue, f->refunded_amount};
    }
    co_return out;
  }

 private:
  const checkout::CheckoutService& checkout_;
};

// The live stream reads checkout's in-memory stock and sale for the products the catalog knows
// (embedded binding of the storefront's StockReader).
class CheckoutStockReader final : public storefront::StockReader {
 public:
  CheckoutStockReader(const catalog::CatalogService& catalog,
                      const checkout::CheckoutService& checkout, const Clock& clock)
      : catalog_(catalog), checkout_(checkout), clock_(clock) {}

  std::optional<storefront::StockReading> Read(std::int64_t product_id) const override {
    if (!catalog_.Exists(product_id)) return std::nullopt;
    storefront::StockReading reading;
    reading.figures.product_id = product_id;
    reading.figures.stock = checkout_.Available(product_id);
    if (auto sale = checkout_.GetSale(product_id)) {
      reading.figures.state = sale->state;
      reading.figures.starts_at = sale->sale.starts_at;
      reading.figures.ends_at = sale->sale.ends_at;
      const TimePoint now = clock_.Now();
      if (now < sale->sale.starts_at) {
        reading.next_state_change = sale->sale.starts_at;
      } else if (now < sale->sale.ends_at) {
        reading.next_state_change = sale->sale.ends_at;
      }
    }
    return reading;
  }

 private:
  const catalog::CatalogService& catalog_;
  const checkout::CheckoutService& checkout_;
  const Clock& clock_;
};

// Checkout, still built here rather than by a module of its own (ADR 0008, "Not done yet"): its
// two databases (its own and the simulated card processor's ledger), its service, its event
// subscribers and the in-process bindings of the client ports it serves.
struct CheckoutParts {
  std::unique_ptr<storage::ServiceDatabase> provider_db;
  std::unique_ptr<checkout::SimulatedPaymentProvider> payment_provider;
  std::unique_ptr<storage::ServiceDatabase> checkout_db;
  std::unique_ptr<checkout::SqliteInventoryStore> inventory_store;
  std::unique_ptr<checkout::CheckoutService> checkout;
  std::unique_ptr<checkout::ProductInventorySubscriber> product_inventory_subscriber;
  std::unique_ptr<checkout::ProductCacheSubscriber> product_cache_subscriber;
  std::unique_ptr<checkout::OrderEventsSubscriber> order_events_subscriber;
  // The client ports it serves (in-process bindings).
  std::unique_ptr<InProcessAvailability> availability;
  std::unique_ptr<InProcessCheckoutClient> cart_checkout_client;
  std::unique_ptr<CheckoutSaleFigures> sale_figures;
  std::unique_ptr<InProcessPaymentsClient> payments_client;
};

struct EmbeddedApp::Parts {
  Parts(config::Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  // Stop, in reverse of the start: the admin listener (the public one stopped in Run), the
  // periodic tasks, the bus, the modules' workers, the writers; then the members below are
  // destroyed in reverse order of declaration: the modules last built first, their databases
  // closed with them.
  ~Parts() {
    if (admin_thread.joinable()) {
      admin_server->Shutdown();
      admin_thread.join();
    }
    maintenance.Stop();
    // The bus first, so nothing delivers into a stopped writer; then the writers drain.
    if (event_bus) event_bus->Stop();
    for (auto it = modules.rbegin(); it != modules.rend(); ++it) (*it)->StopWorkers();
    for (storage::ServiceDatabase* db : databases) db->writer->Stop();
  }

  config::Config config;
  const Clock& clock;
  metrics::Registry metrics;
  std::optional<lock::FileLock> data_dir_lock;  // Held until the process exits.

  // The modules, in the order they are built (each after the modules whose client ports it
  // calls), and every SQLite database they own, in the order they opened.
  std::unique_ptr<gateway::GatewayModule> gateway;
  CheckoutParts checkout;
  std::unique_ptr<catalog::CatalogModule> catalog;
  std::unique_ptr<orders::OrdersModule> orders;
  std::unique_ptr<members::MembersModule> members;
  std::vector<module::Module*> modules;
  std::vector<storage::ServiceDatabase*> databases;

  std::unique_ptr<events::sqlite_outbox::SqliteEventBus> event_bus;
  PeriodicTasks maintenance;

  // The admin listener (GET /metrics) on its own port and thread; null when server.admin_port
  // is -1.
  NoMemberIdentities no_member_identities;
  http::Router admin_router;
  std::unique_ptr<http::Server> admin_server;
  std::thread admin_thread;
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

// The simulated processor stands in for an external system: its ledger is WAL + NORMAL, which
// survives a killed process (our fault model) without spending a third fsync per purchase. Our
// own databases keep storage.synchronous (FULL by default).
void OpenCheckoutStores(CheckoutParts& c, const config::Config& config,
                        metrics::Registry& metrics) {
  c.provider_db = std::make_unique<storage::ServiceDatabase>(
      "provider", config.storage, checkout::SimulatedProviderMigrations(), metrics,
      storage::Synchronous::kNormal);
  c.payment_provider = std::make_unique<checkout::SimulatedPaymentProvider>(
      *c.provider_db->writer, *c.provider_db->readers,
      checkout::SimulatedProviderOptions{config.payment.decline_percent / 100.0,
                                         static_cast<std::uint64_t>(config.payment.seed),
                                         std::chrono::milliseconds(config.payment.latency_ms)});
  c.checkout_db = std::make_unique<storage::ServiceDatabase>(
      "checkout", config.storage, checkout::CheckoutMigrations(), metrics);
  c.inventory_store = std::make_unique<checkout::SqliteInventoryStore>(*c.checkout_db->writer,
                                                                       *c.checkout_db->readers);
}

void BuildCheckout(CheckoutParts& c, const config::Config& config, const Clock& clock,
                   metrics::Registry& metrics) {
  checkout::CheckoutOptions options;
  options.hold_ttl = std::chrono::seconds(config.checkout.hold_ttl_s);
  options.idempotency_ttl = std::chrono::seconds(config.checkout.idempotency_ttl_s);
  c.checkout = std::make_unique<checkout::CheckoutService>(*c.inventory_store, *c.payment_provider,
                                                           clock, metrics, options);
  c.product_inventory_subscriber =
      std::make_unique<checkout::ProductInventorySubscriber>(*c.checkout);
  c.product_cache_subscriber = std::make_unique<checkout::ProductCacheSubscriber>(*c.checkout);
  c.order_events_subscriber = std::make_unique<checkout::OrderEventsSubscriber>(*c.checkout);
  c.availability = std::make_unique<InProcessAvailability>(*c.checkout);
  c.cart_checkout_client = std::make_unique<InProcessCheckoutClient>(*c.checkout);
  c.sale_figures = std::make_unique<CheckoutSaleFigures>(*c.checkout);
  c.payments_client = std::make_unique<InProcessPaymentsClient>(*c.checkout);
  RegisterCheckoutGauges(metrics, *c.checkout_db);
}

std::vector<events::Subscription> CheckoutSubscriptions(CheckoutParts& c) {
  using events::Delivery;
  const std::vector<std::string> product_topics(catalog::api::kProductTopics.begin(),
                                                catalog::api::kProductTopics.end());
  return {// The catalog's products become checkout's inventory rows (once), and every checkout
          // instance refreshes its memory of them.
          {std::string(catalog::api::kSource), product_topics, "checkout", Delivery::kEffect,
           c.product_inventory_subscriber.get()},
          {std::string(catalog::api::kSource), product_topics, "checkout", Delivery::kCacheRefresh,
           c.product_cache_subscriber.get()},
          // Cancelled orders and received returns are refunded and restocked.
          {std::string(orders::api::kSource),
           {std::string(orders::api::kOrderCancelled), std::string(orders::api::kOrderReturned)},
           "checkout",
           Delivery::kEffect,
           c.order_events_subscriber.get()}};
}

std::vector<module::PeriodicTask> CheckoutTasks(const config::Config& config,
                                                checkout::CheckoutService& service) {
  checkout::CheckoutService* checkout = &service;
  return {
      {"hold-expiry", std::chrono::milliseconds(config.checkout.sweep_interval_ms),
       [checkout]() -> boost::asio::awaitable<void> {
         // Drain every due hold, one bounded batch per transaction.
         while (co_await checkout->SweepExpired() > 0) {
         }
       }},
      {"stale-payments", std::chrono::seconds(10),
       [checkout]() -> boost::asio::awaitable<void> {
         checkout->ResolveStalePayments(false);
         co_return;
       }},
      {"idempotency-retention", std::chrono::seconds(60),
       [checkout]() -> boost::asio::awaitable<void> {
         // Drain every expired record, one bounded batch per transaction.
         while (co_await checkout->ForgetExpiredIdempotencyKeys() >=
                checkout->idempotency_forget_batch()) {
         }
       }},
      {"reconcile", std::chrono::seconds(config.checkout.reconcile_interval_s),
       [checkout]() -> boost::asio::awaitable<void> {
         checkout->Reconcile();
         co_return;
       }},
      {"pending-refunds", std::chrono::seconds(10), [checkout]() -> boost::asio::awaitable<void> {
         checkout->RetryPendingRefunds();
         co_return;
       }}};
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

  // The gateway authenticates every request on the listeners.
  p.gateway = std::make_unique<gateway::GatewayModule>(
      config, p.clock, p.metrics, gateway::GatewayModule::OpenStores(config, p.clock),
      SigningKeys(config));
  p.server = std::make_unique<http::Server>(ServerOptionsFrom(config), p.router,
                                            p.gateway->authenticator(), p.metrics);
  BindExclusively(*p.server, config.server.port);
  if (config.server.admin_port >= 0) {
    http::ServerOptions admin = ServerOptionsFrom(config);
    admin.host = config.server.admin_host;
    admin.port = static_cast<std::uint16_t>(config.server.admin_port);
    admin.threads = 1;
    admin.max_connections = 64;
    admin.handle_signals = false;  // The public server takes the signals and stops this one.
    admin.name = "admin";
    p.admin_server = std::make_unique<http::Server>(std::move(admin), p.admin_router,
                                                    p.no_member_identities, p.metrics);
    BindExclusively(*p.admin_server, config.server.admin_port);
    RegisterMetricsRoute(p.admin_router, p.metrics, config.ops.metrics_token);
  }

  // 1. Open and migrate every store, in this order: a start-up refused for a store names the
  // first one that cannot write.
  auto catalog_stores = catalog::CatalogModule::OpenStores(config, p.metrics);
  auto members_stores = members::MembersModule::OpenStores(config, p.clock, p.metrics);
  OpenCheckoutStores(p.checkout, config, p.metrics);
  auto orders_stores = orders::OrdersModule::OpenStores(config, p.metrics);

  // Then the modules, each after those whose client ports it calls, bound in-process.
  BuildCheckout(p.checkout, config, p.clock, p.metrics);
  checkout::CheckoutService& checkout = *p.checkout.checkout;
  p.catalog = std::make_unique<catalog::CatalogModule>(
      p.clock, std::move(catalog_stores),
      catalog::CatalogModule::Clients{.availability = *p.checkout.availability,
                                      .checkout = *p.checkout.cart_checkout_client});
  checkout.SetProductExistsCheck(
      [catalog = &p.catalog->catalog()](std::int64_t id) { return catalog->Exists(id); });
  p.orders = std::make_unique<orders::OrdersModule>(
      config, p.clock, p.metrics, std::move(orders_stores),
      orders::OrdersModule::Clients{.payments = *p.checkout.payments_client,
                                    .sale_figures = *p.checkout.sale_figures});
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
  p.stock_reader = std::make_unique<CheckoutStockReader>(p.catalog->catalog(), checkout, p.clock);
  p.storefront = std::make_unique<storefront::StorefrontModule>(
      config, p.clock, p.metrics,
      storefront::StorefrontModule::Clients{.stock = *p.stock_reader,
                                            .stock_changed = checkout.stock_signal()});
  p.modules = {p.gateway.get(), p.catalog.get(), p.orders.get(), p.members.get(),
               p.storefront.get()};
  // Every database, in the order they opened (writers start and stop in it).
  p.databases = {p.catalog->Databases().front(), p.members->Databases().front(),
                 p.orders->Databases().front(), p.checkout.provider_db.get(),
                 p.checkout.checkout_db.get()};

  // Events between the services: every service database is a source (its outbox) and a consumer
  // (positions, claims, dead letters) on the in-process bus.
  p.event_bus = std::make_unique<events::sqlite_outbox::SqliteEventBus>(p.clock);
  for (storage::ServiceDatabase* db : p.databases) {
    p.event_bus->AddService(db->name, *db->writer, *db->readers);
    RegisterEventMetrics(p.metrics, *p.event_bus, db->name);
  }
  for (const events::Subscription& s : CheckoutSubscriptions(p.checkout)) p.event_bus->Subscribe(s);
  for (module::Module* m : p.modules) {
    for (const events::Subscription& s : m->Subscriptions()) p.event_bus->Subscribe(s);
  }

  // 2. Load (the writers first: services load through them), 3. the modules' workers, 4. the
  // bus (it delivers into loaded services).
  for (storage::ServiceDatabase* db : p.databases) db->writer->Start();
  checkout.Load();
  for (module::Module* m : p.modules) m->Load();
  for (module::Module* m : p.modules) m->StartWorkers();
  p.event_bus->Start();
  if (config.demo.seed) SeedDemo(config, p.clock, p.catalog->catalog(), checkout, *p.members);

  // 5. Routes, maintenance, then serve.
  p.catalog->RegisterRoutes(p.router);
  checkout::RegisterRoutes(p.router, checkout);
  for (module::Module* m : p.modules) {
    if (m != p.catalog.get()) m->RegisterRoutes(p.router);
  }
  // /health's look at every store; the closure lives in the router, as long as the coroutines
  // it starts.
  StoreCheck check_stores = [&p]() -> boost::asio::awaitable<std::vector<StoreHealth>> {
    std::vector<StoreHealth> stores;
    for (module::Module* m : p.modules) {
      std::vector<StoreHealth> own = co_await m->CheckStores();
      stores.insert(stores.end(), own.begin(), own.end());
    }
    std::vector<storage::ServiceDatabase*> checkout_dbs{p.checkout.provider_db.get(),
                                                        p.checkout.checkout_db.get()};
    std::vector<StoreHealth> checkout_stores =
        co_await module::CheckDatabases(std::move(checkout_dbs));
    stores.insert(stores.end(), checkout_stores.begin(), checkout_stores.end());
    co_return stores;
  };
  RegisterOpsRoutes(
      p.router, [&p] { return p.ready.load(); }, std::move(check_stores));
  RegisterBuildInfo(p.metrics);

  std::vector<module::PeriodicTask> tasks = CheckoutTasks(config, checkout);
  tasks.push_back({"processed-events-retention", std::chrono::minutes(10),
                   [&p]() -> boost::asio::awaitable<void> {
                     // A relay redelivers only what its subscriber has not passed yet: seconds,
                     // not days.
                     const TimePoint before =
                         p.clock.Now() -
                         std::chrono::seconds(p.config.storage.processed_events_ttl_s);
                     constexpr std::int64_t kBatch = 10'000;
                     auto prune = [before](storage::Database& conn) -> Result<std::int64_t> {
                       return events::sqlite_outbox::PruneProcessedEvents(conn, before, kBatch);
                     };
                     // Awaited, not run synchronously: the hold-expiry sweep shares this thread.
                     for (storage::ServiceDatabase* db : p.databases) {
                       for (;;) {
                         auto pruned = co_await async::Write<std::int64_t>(*db->writer, prune);
                         if (!pruned.ok() || *pruned < kBatch) break;
                       }
                     }
                   }});
  for (module::Module* m : p.modules) {
    for (module::PeriodicTask& t : m->PeriodicTasks()) tasks.push_back(std::move(t));
  }
  for (module::PeriodicTask& t : tasks) p.maintenance.Add(t.name, t.every, std::move(t.run));
  p.maintenance.Start();

  // Every route is registered: their metrics series exist before anyone is told we are up.
  p.server->SealRoutes();
  if (p.admin_server) p.admin_server->SealRoutes();
  p.ready = true;
  if (p.admin_server) {
    std::printf("rocketmart metrics on http://%s:%u/metrics\n", config.server.admin_host.c_str(),
                static_cast<unsigned>(p.admin_server->port()));
  }
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
  if (p.admin_server) p.admin_thread = std::thread([&p] { p.admin_server->Run(); });
  p.server->Run();
  p.ready = false;
  // Metrics stay scrapable while the public server drains; then the admin listener stops too.
  if (p.admin_thread.joinable()) {
    p.admin_server->Shutdown();
    p.admin_thread.join();
  }
}

void EmbeddedApp::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace rocketmart::app

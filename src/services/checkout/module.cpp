#include "services/checkout/module.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"
#include "services/catalog/api/events.hpp"
#include "services/checkout/adapters/catalog_subscriber.hpp"
#include "services/checkout/adapters/http_routes.hpp"
#include "services/checkout/adapters/order_events_subscriber.hpp"
#include "services/checkout/adapters/postgres/postgres_simulated_ledger.hpp"
#include "services/checkout/adapters/redis/redis_admission.hpp"
#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"
#include "services/checkout/adapters/sale_cache_subscriber.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/adapters/sqlite_checkout_schema.hpp"
#include "services/checkout/api/events.hpp"
#include "services/orders/api/events.hpp"

namespace rocketmart::checkout {
namespace {

// One number at scrape time from checkout's database: SQLite through the scraping thread's own
// read-only connection, PostgreSQL through the database's gauge reader (at most the statement
// timeout). NaN when the read fails.
double ReadNumber(module::Database& db, std::string_view sqlite_sql,
                  std::string_view postgres_sql) {
  if (db.sqlite) return db.sqlite->ReadNumber(sqlite_sql);
  return db.postgres->ReadNumber(std::string(postgres_sql), postgres::Params{});
}

// What an operator watches during a drop, read at scrape time: stock totals (available, held,
// sold, over the products that are not retired; a series per product would grow with the
// catalog) and open holds (indexed reads; NaN when a read fails).
void RegisterGauges(metrics::Registry& registry, module::Database& db) {
  module::Database* checkout = &db;
  registry.AddGauge(
      "checkout_stock_available_units",
      "Units on sale not held or sold, summed over products that are not retired", "", [checkout] {
        return ReadNumber(*checkout, "SELECT SUM(available) FROM inventory WHERE retired = 0",
                          "SELECT SUM(available) FROM inventory WHERE NOT retired");
      });
  registry.AddGauge("checkout_stock_held_units",
                    "Units in open holds (awaiting payment), summed over products", "", [checkout] {
                      return ReadNumber(*checkout,
                                        "SELECT SUM(held) FROM inventory WHERE retired = 0",
                                        "SELECT SUM(held) FROM inventory WHERE NOT retired");
                    });
  registry.AddGauge("checkout_stock_sold_units",
                    "Units sold and not refunded, summed over products", "", [checkout] {
                      return ReadNumber(*checkout,
                                        "SELECT SUM(sold) FROM inventory WHERE retired = 0",
                                        "SELECT SUM(sold) FROM inventory WHERE NOT retired");
                    });
  registry.AddGauge("checkout_holds_open", "Holds awaiting payment (ACTIVE or PAYING)", "",
                    [checkout] {
                      constexpr std::string_view kSql =
                          "SELECT COUNT(*) FROM holds WHERE status IN ('ACTIVE', 'PAYING')";
                      return ReadNumber(*checkout, kSql, kSql);
                    });
}

}  // namespace

std::vector<module::PeriodicTask> MaintenancePeriodicTasks(CheckoutService& checkout,
                                                           const MaintenanceSchedule& schedule) {
  std::vector<module::PeriodicTask> tasks;
  for (MaintenanceTask& task : MaintenanceTasks(checkout, schedule)) {
    tasks.push_back({.name = std::move(task.name),
                     .every = task.every,
                     .calls_remote = task.calls_provider,
                     .run = std::move(task.run)});
  }
  return tasks;
}

CheckoutModule::Stores CheckoutModule::OpenStores(const config::Config& config,
                                                  metrics::Registry& metrics,
                                                  module::SharedRedis* redis) {
  Stores stores;
  const SimulatedProviderOptions provider_options{
      config.payment.decline_percent / 100.0, static_cast<std::uint64_t>(config.payment.seed),
      std::chrono::milliseconds(config.payment.latency_ms)};
  if (config::IsPostgresUrl(config.checkout.database.url)) {
    // The simulated processor stands in for an external system that every checkout instance
    // calls: its ledger is a table of its own in checkout's database, shared by the instances, so
    // the one that resolves a stale payment or refunds an order sees the charge another made.
    auto migrate = [](postgres::Connection& c) -> boost::asio::awaitable<Status> {
      auto checkout = co_await MigratePostgresCheckout(c);
      if (!checkout.ok()) co_return checkout;
      co_return co_await MigratePostgresSimulatedLedger(c);
    };
    stores.db = module::OpenDatabase("checkout", config.checkout.database, config.storage,
                                     CheckoutMigrations(), migrate, metrics);
    postgres::Pool& pool = stores.db.postgres->pool();
    stores.postgres = std::make_unique<PostgresCheckoutStores>(pool);
    stores.provider = std::make_unique<SimulatedPaymentProvider>(
        std::make_unique<PostgresSimulatedLedger>(pool), provider_options);
  } else {
    // Embedded, its ledger is a SQLite file of its own in the data directory, WAL + NORMAL, which
    // survives a killed process (our fault model) without spending a third fsync per purchase.
    // Our own databases keep storage.synchronous (FULL by default).
    stores.provider_db.sqlite = std::make_unique<storage::ServiceDatabase>(
        "provider", config.storage, SimulatedProviderMigrations(), metrics,
        storage::Synchronous::kNormal);
    stores.provider = std::make_unique<SimulatedPaymentProvider>(
        *stores.provider_db.sqlite->writer, *stores.provider_db.sqlite->readers, provider_options);
    stores.db = module::OpenDatabase("checkout", config.checkout.database, config.storage,
                                     CheckoutMigrations(), MigratePostgresCheckout, metrics);
    stores.sqlite = std::make_unique<SqliteCheckoutStores>(*stores.db.sqlite->writer,
                                                           *stores.db.sqlite->readers);
  }
  if (redis != nullptr) {
    auto shared = std::make_unique<RedisAdmission>(
        redis->client(), metrics,
        RedisAdmissionOptions{
            .prefix = redis->prefix(),
            .sold_out_recheck = std::chrono::milliseconds(config.checkout.sold_out_recheck_ms)});
    // (The adapter registers its own counters, notifications lost included.)
    stores.redis_admission = shared.get();
    stores.admission = std::move(shared);
    // A retry that lands on another instance waits for the first there (its subscription is a
    // connection of its own on the client's loop).
    stores.gate = std::make_unique<RedisIdempotencyGate>(
        redis->client(), redis->executor(), metrics,
        RedisIdempotencyGateOptions{.prefix = redis->prefix()});
  } else {
    stores.admission = std::make_unique<InMemoryAdmission>();
    stores.gate = std::make_unique<InMemoryIdempotencyGate>();
  }
  return stores;
}

namespace {
CheckoutOptions OptionsFrom(const config::Config& config, std::string instance) {
  CheckoutOptions options;
  options.worker = std::move(instance);
  options.hold_ttl = std::chrono::seconds(config.checkout.hold_ttl_s);
  options.idempotency_ttl = std::chrono::seconds(config.checkout.idempotency_ttl_s);
  options.stale_payment_after = std::chrono::seconds(config.checkout.stale_payment_after_s);
  return options;
}

// Checkout's ports on whichever stores OpenStores chose.
CheckoutPorts PortsOf(CheckoutModule::Stores& stores, ProductDirectory& catalog) {
  auto bind = [&](auto& five) {
    return CheckoutPorts{.stock = five.stock,
                         .sales = five.sales,
                         .holds = five.holds,
                         .refunds = five.refunds,
                         .idempotency = five.idempotency,
                         .admission = *stores.admission,
                         .gate = *stores.gate,
                         .provider = *stores.provider,
                         .catalog = catalog};
  };
  return stores.postgres ? bind(*stores.postgres) : bind(*stores.sqlite);
}
}  // namespace

CheckoutModule::CheckoutModule(const config::Config& config, const Clock& clock,
                               metrics::Registry& metrics, Stores stores, Clients clients,
                               std::string instance)
    : config_(config),
      stores_(std::move(stores)),
      checkout_(std::make_unique<CheckoutService>(PortsOf(stores_, clients.catalog), clock, metrics,
                                                  OptionsFrom(config, std::move(instance)))),
      availability_(*checkout_),
      cart_checkout_client_(*checkout_),
      payments_client_(*checkout_),
      sale_figures_(*checkout_),
      product_inventory_subscriber_(std::make_unique<ProductInventorySubscriber>(*checkout_)),
      product_cache_subscriber_(std::make_unique<ProductCacheSubscriber>(*checkout_)),
      sale_cache_subscriber_(std::make_unique<SaleCacheSubscriber>(*checkout_)),
      order_events_subscriber_(std::make_unique<OrderEventsSubscriber>(*checkout_)) {
  RegisterGauges(metrics, stores_.db);
}

CheckoutModule::~CheckoutModule() = default;

void CheckoutModule::Load() {
  // Shared admission first makes its epoch valid for this Redis run (the load's rebuilds then
  // fill the counters of every product).
  if (stores_.redis_admission != nullptr) {
    if (auto started = async::RunToCompletion(stores_.redis_admission->Start()); !started.ok()) {
      throw std::runtime_error("checkout: redis admission: " + started.error().message);
    }
  }
  if (auto loaded = async::RunToCompletion(checkout_->Load()); !loaded.ok()) {
    throw std::runtime_error("checkout: " + loaded.error().message);
  }
}

std::vector<events::Subscription> CheckoutModule::Subscriptions() {
  using events::Delivery;
  const std::vector<std::string> product_topics(catalog::api::kProductTopics.begin(),
                                                catalog::api::kProductTopics.end());
  return {// The catalog's products become checkout's inventory rows (once), and every checkout
          // instance refreshes its memory of them.
          {std::string(catalog::api::kSource), product_topics, "checkout", Delivery::kEffect,
           product_inventory_subscriber_.get()},
          {std::string(catalog::api::kSource), product_topics, "checkout", Delivery::kCacheRefresh,
           product_cache_subscriber_.get()},
          // A sale set or changed on any checkout instance reaches every instance's memory.
          {std::string(api::kSource),
           {std::string(api::kSaleChanged)},
           "checkout",
           Delivery::kCacheRefresh,
           sale_cache_subscriber_.get()},
          // Cancelled orders and received returns are refunded and restocked.
          {std::string(orders::api::kSource),
           {std::string(orders::api::kOrderCancelled), std::string(orders::api::kOrderReturned)},
           "checkout",
           Delivery::kEffect,
           order_events_subscriber_.get()}};
}

void CheckoutModule::RegisterRoutes(http::Router& router) {
  checkout::RegisterRoutes(router, *checkout_);
}

std::vector<module::PeriodicTask> CheckoutModule::PeriodicTasks() {
  std::vector<module::PeriodicTask> tasks = MaintenancePeriodicTasks(
      *checkout_, MaintenanceSchedule{
                      .hold_expiry = std::chrono::milliseconds(config_.checkout.sweep_interval_ms),
                      .reconcile = std::chrono::seconds(config_.checkout.reconcile_interval_s),
                      .idempotency_retention = std::chrono::seconds(60),
                      .stale_payments = std::chrono::seconds(10),
                      .pending_refunds = std::chrono::seconds(10)});
  if (RedisAdmission* shared = stores_.redis_admission) {
    // Shared counters move with every instance's sales: this instance's stock figures (product
    // pages, the live stock stream) follow them, one script per 512 products every 500 ms.
    tasks.push_back({.name = "admission-stock-refresh",
                     .every = std::chrono::milliseconds(500),
                     .calls_remote = true,
                     .run = [this, shared]() -> boost::asio::awaitable<void> {
                       const std::size_t changed = co_await shared->RefreshAvailable();
                       if (changed > 0) checkout_->stock_signal().Notify();
                     }});
  }
  return tasks;
}

boost::asio::awaitable<std::vector<module::StoreHealth>> CheckoutModule::CheckStores() {
  return module::CheckDatabases(Databases());
}

}  // namespace rocketmart::checkout

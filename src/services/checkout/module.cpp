#include "services/checkout/module.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"
#include "services/catalog/api/events.hpp"
#include "services/checkout/adapters/catalog_subscriber.hpp"
#include "services/checkout/adapters/embedded_checkout_ports.hpp"
#include "services/checkout/adapters/http_routes.hpp"
#include "services/checkout/adapters/order_events_subscriber.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/adapters/sqlite_checkout_schema.hpp"
#include "services/orders/api/events.hpp"

namespace rocketmart::checkout {
namespace {

// What an operator watches during a drop, read at scrape time from checkout.db through the
// scraping thread's own read-only connection: stock totals (available, held, sold, over the
// products that are not retired; a series per product would grow with the catalog) and open
// holds (indexed reads; NaN when a read fails).
void RegisterGauges(metrics::Registry& registry, storage::ServiceDatabase& db) {
  storage::ServiceDatabase* checkout = &db;
  registry.AddGauge(
      "checkout_stock_available_units",
      "Units on sale not held or sold, summed over products that are not retired", "", [checkout] {
        return checkout->ReadNumber("SELECT SUM(available) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge(
      "checkout_stock_held_units", "Units in open holds (awaiting payment), summed over products",
      "", [checkout] {
        return checkout->ReadNumber("SELECT SUM(held) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge(
      "checkout_stock_sold_units", "Units sold and not refunded, summed over products", "",
      [checkout] {
        return checkout->ReadNumber("SELECT SUM(sold) FROM inventory WHERE retired = 0");
      });
  registry.AddGauge("checkout_holds_open", "Holds awaiting payment (ACTIVE or PAYING)", "",
                    [checkout] {
                      return checkout->ReadNumber(
                          "SELECT COUNT(*) FROM holds WHERE status IN ('ACTIVE', 'PAYING')");
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
                                                  metrics::Registry& metrics) {
  Stores stores;
  // The simulated processor stands in for an external system: its ledger is WAL + NORMAL, which
  // survives a killed process (our fault model) without spending a third fsync per purchase. Our
  // own databases keep storage.synchronous (FULL by default).
  stores.provider_db = std::make_unique<storage::ServiceDatabase>(
      "provider", config.storage, SimulatedProviderMigrations(), metrics,
      storage::Synchronous::kNormal);
  stores.provider = std::make_unique<SimulatedPaymentProvider>(
      *stores.provider_db->writer, *stores.provider_db->readers,
      SimulatedProviderOptions{config.payment.decline_percent / 100.0,
                               static_cast<std::uint64_t>(config.payment.seed),
                               std::chrono::milliseconds(config.payment.latency_ms)});
  stores.db = std::make_unique<storage::ServiceDatabase>("checkout", config.storage,
                                                         CheckoutMigrations(), metrics);
  stores.ports = std::make_unique<EmbeddedCheckoutPorts>(*stores.db->writer, *stores.db->readers);
  return stores;
}

namespace {
CheckoutOptions OptionsFrom(const config::Config& config) {
  CheckoutOptions options;
  options.hold_ttl = std::chrono::seconds(config.checkout.hold_ttl_s);
  options.idempotency_ttl = std::chrono::seconds(config.checkout.idempotency_ttl_s);
  return options;
}
}  // namespace

CheckoutModule::CheckoutModule(const config::Config& config, const Clock& clock,
                               metrics::Registry& metrics, Stores stores, Clients clients)
    : config_(config),
      stores_(std::move(stores)),
      checkout_(
          std::make_unique<CheckoutService>(stores_.ports->With(*stores_.provider, clients.catalog),
                                            clock, metrics, OptionsFrom(config))),
      availability_(*checkout_),
      cart_checkout_client_(*checkout_),
      payments_client_(*checkout_),
      sale_figures_(*checkout_),
      product_inventory_subscriber_(std::make_unique<ProductInventorySubscriber>(*checkout_)),
      product_cache_subscriber_(std::make_unique<ProductCacheSubscriber>(*checkout_)),
      order_events_subscriber_(std::make_unique<OrderEventsSubscriber>(*checkout_)) {
  RegisterGauges(metrics, *stores_.db);
}

CheckoutModule::~CheckoutModule() = default;

void CheckoutModule::Load() {
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
  return MaintenancePeriodicTasks(
      *checkout_, MaintenanceSchedule{
                      .hold_expiry = std::chrono::milliseconds(config_.checkout.sweep_interval_ms),
                      .reconcile = std::chrono::seconds(config_.checkout.reconcile_interval_s),
                      .idempotency_retention = std::chrono::seconds(60),
                      .stale_payments = std::chrono::seconds(10),
                      .pending_refunds = std::chrono::seconds(10)});
}

boost::asio::awaitable<std::vector<module::StoreHealth>> CheckoutModule::CheckStores() {
  return module::CheckDatabases(Databases());
}

}  // namespace rocketmart::checkout

// The checkout module (ADR 0008): sales, admission, holds, payments and refunds (CheckoutService)
// on checkout's database (checkout.db, or PostgreSQL by [checkout.database] url), with the
// simulated card processor's own ledger (it stands for an external system: provider.db embedded, a
// table of its own shared by the instances when checkout is on PostgreSQL); its maintenance (hold
// expiry, stale payments, refunds, the reconciler, idempotency retention). Consumes the catalog's
// product events (inventory rows, and every instance's memory of them) and orders' cancellations
// and returns (refund, restock). Calls the catalog's product directory. Serves the catalog's
// AvailabilitySource and CheckoutClient and orders' PaymentsClient and SaleFiguresSource.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "infra/module/redis.hpp"
#include "services/checkout/adapters/in_memory_admission.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_stores.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/checkout/clients/in_process/clients.hpp"
#include "services/checkout/maintenance.hpp"
#include "services/checkout/ports/payment_provider.hpp"
#include "services/checkout/ports/product_directory.hpp"

namespace rocketmart::checkout {

class ProductInventorySubscriber;
class RedisAdmission;
class ProductCacheSubscriber;
class SaleCacheSubscriber;
class OrderEventsSubscriber;

class CheckoutModule final : public module::Module {
 public:
  // The payment provider (the simulated processor; its ledger in provider.db, or beside checkout's
  // data on PostgreSQL, where provider_db stays empty) and checkout's
  // database with the stores on it (SQLite or PostgreSQL: one of the two sets), plus this
  // process's admission and in-flight gate.
  struct Stores {
    module::Database provider_db;
    std::unique_ptr<PaymentProvider> provider;
    module::Database db;
    std::unique_ptr<SqliteCheckoutStores> sqlite;
    std::unique_ptr<PostgresCheckoutStores> postgres;
    std::unique_ptr<Admission> admission;
    RedisAdmission* redis_admission = nullptr;  // `admission` when it is the shared one
    std::unique_ptr<IdempotencyGate> gate;      // in Redis with `redis_admission`
  };
  // Opens provider.db (SQLite only), then checkout's database. `redis`: the process's Redis
  // (admission and the idempotency in-flight gate are then shared by every checkout instance
  // there), or nullptr (in memory, this instance alone).
  static Stores OpenStores(const config::Config& config, metrics::Registry& metrics,
                           module::SharedRedis* redis = nullptr);

  // The catalog's side of checkout: must outlive the module.
  struct Clients {
    ProductDirectory& catalog;
  };

  // `instance`: this instance's name on the payments and refunds it leases (CheckoutOptions::
  // worker): stable across its restarts and unique among the instances sharing the database (the
  // composition root's StableInstanceName); a restart settles at once what it left PAYING.
  CheckoutModule(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
                 Stores stores, Clients clients, std::string instance);
  ~CheckoutModule() override;

  // Served: the catalog's product views and cart, orders' read-your-writes and sale summary.
  catalog::AvailabilitySource& availability() { return availability_; }
  catalog::CheckoutClient& cart_checkout_client() { return cart_checkout_client_; }
  orders::PaymentsClient& payments_client() { return payments_client_; }
  orders::SaleFiguresSource& sale_figures() { return sale_figures_; }
  // For the composition root: the demo seed and the storefront's live stock.
  CheckoutService& checkout() { return *checkout_; }

  std::string_view Name() const override { return "checkout"; }
  std::vector<module::Database*> Databases() override {
    if (!stores_.provider_db.sqlite) return {&stores_.db};
    return {&stores_.provider_db, &stores_.db};
  }
  void Load() override;
  void StartWorkers() override {}
  void StopWorkers() override {}
  std::vector<events::Subscription> Subscriptions() override;
  void RegisterRoutes(http::Router& router) override;
  std::vector<module::PeriodicTask> PeriodicTasks() override;
  boost::asio::awaitable<std::vector<module::StoreHealth>> CheckStores() override;

 private:
  const config::Config& config_;
  Stores stores_;
  std::unique_ptr<CheckoutService> checkout_;
  InProcessAvailability availability_;
  InProcessCheckoutClient cart_checkout_client_;
  InProcessPaymentsClient payments_client_;
  InProcessSaleFigures sale_figures_;
  std::unique_ptr<ProductInventorySubscriber> product_inventory_subscriber_;
  std::unique_ptr<ProductCacheSubscriber> product_cache_subscriber_;
  std::unique_ptr<SaleCacheSubscriber> sale_cache_subscriber_;
  std::unique_ptr<OrderEventsSubscriber> order_events_subscriber_;
};

// Checkout's maintenance (maintenance.hpp) as module tasks: those that wait for the payment
// provider run apart from the sweepers (`calls_remote`).
std::vector<module::PeriodicTask> MaintenancePeriodicTasks(CheckoutService& checkout,
                                                           const MaintenanceSchedule& schedule);

}  // namespace rocketmart::checkout

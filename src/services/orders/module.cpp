#include "services/orders/module.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "infra/async/run.hpp"
#include "services/checkout/api/events.hpp"
#include "services/orders/adapters/http_routes.hpp"
#include "services/orders/adapters/order_paid_subscriber.hpp"
#include "services/orders/adapters/postgres/postgres_order_store.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "services/orders/domain/order.hpp"

namespace rocketmart::orders {
namespace {

// One number at scrape time from orders' database, whichever engine keeps it: SQLite through the
// scraping thread's own read-only connection, PostgreSQL through the database's gauge reader (at
// most the statement timeout). NaN when the read fails.
double ReadNumber(module::Database& db, std::string_view sqlite_sql, std::string_view postgres_sql,
                  std::optional<std::int64_t> number, std::optional<std::string_view> text) {
  if (db.sqlite) return db.sqlite->ReadNumber(sqlite_sql, number, text);
  postgres::Params params;
  if (number) params.Add(*number);
  if (text) params.Add(*text);
  return db.postgres->ReadNumber(std::string(postgres_sql), std::move(params));
}

// What an operator watches during a drop, read at scrape time (indexed reads; NaN when a read
// fails).
void RegisterGauges(metrics::Registry& registry, module::Database& db, const Clock& clock) {
  module::Database* orders = &db;
  for (int i = static_cast<int>(OrderStatus::kPaid); i <= static_cast<int>(OrderStatus::kReturned);
       ++i) {
    const std::string_view status = OrderStatusName(static_cast<OrderStatus>(i));
    registry.AddGauge("orders_by_status", "Orders in each status",
                      "status=\"" + metrics::EscapeLabel(status) + "\"", [orders, status] {
                        return ReadNumber(*orders, "SELECT COUNT(*) FROM orders WHERE status = ?1",
                                          "SELECT COUNT(*) FROM orders WHERE status = $1",
                                          std::nullopt, status);
                      });
  }
  const Clock* c = &clock;
  registry.AddGauge(
      "orders_scheduler_lag_seconds",
      "How long the oldest due order transition (shipping, delivery, ...) has waited; 0 when none",
      "", [orders, c] {
        const std::int64_t now = ToUnixMillis(c->Now());
        const double due = ReadNumber(
            *orders,
            "SELECT s.due_at_ms FROM order_schedule s JOIN orders o ON o.id = s.order_id "
            "WHERE s.due_at_ms <= ?1 AND o.on_hold = 0 ORDER BY s.due_at_ms LIMIT 1",
            "SELECT s.due_at_ms FROM order_schedule s JOIN orders o ON o.id = s.order_id "
            "WHERE s.due_at_ms <= $1 AND NOT o.on_hold ORDER BY s.due_at_ms LIMIT 1",
            now, std::nullopt);
        if (std::isnan(due)) return std::numeric_limits<double>::quiet_NaN();
        return due == 0 ? 0.0 : static_cast<double>(now - static_cast<std::int64_t>(due)) / 1000.0;
      });
}

}  // namespace

OrdersModule::Stores OrdersModule::OpenStores(const config::Config& config,
                                              metrics::Registry& metrics) {
  Stores stores;
  stores.db = module::OpenDatabase("orders", config.orders.database, config.storage,
                                   OrdersMigrations(), MigratePostgresOrders, metrics);
  LifecycleOptions lifecycle;
  lifecycle.ship_after = std::chrono::seconds(config.orders.ship_after_s);
  lifecycle.deliver_after = std::chrono::seconds(config.orders.deliver_after_s);
  lifecycle.return_window = std::chrono::seconds(config.orders.return_window_s);
  lifecycle.return_receive_after = std::chrono::seconds(config.orders.return_receive_after_s);
  if (module::PostgresDatabase* pg = stores.db.postgres.get()) {
    stores.orders = std::make_unique<PostgresOrderStore>(pg->pool(), lifecycle);
  } else {
    stores.orders = std::make_unique<SqliteOrderStore>(*stores.db.sqlite->writer,
                                                       *stores.db.sqlite->readers, lifecycle);
  }
  return stores;
}

OrdersModule::OrdersModule(const config::Config& config, const Clock& clock,
                           metrics::Registry& metrics, Stores stores, Clients clients)
    : config_(config),
      stores_(std::move(stores)),
      orders_(OrdersPorts{*stores_.orders, clients.payments, clients.sale_figures}, clock,
              OrdersOptions{static_cast<std::size_t>(config.orders.scheduler_batch)}),
      orders_client_(orders_),
      order_paid_subscriber_(std::make_unique<OrderPaidSubscriber>(orders_)),
      payment_refunded_subscriber_(std::make_unique<PaymentRefundedSubscriber>(orders_)) {
  RegisterGauges(metrics, stores_.db, clock);
}

OrdersModule::~OrdersModule() = default;

void OrdersModule::Load() {
  if (auto loaded = async::RunToCompletion(orders_.Load()); !loaded.ok()) {
    throw std::runtime_error("orders: the schedule could not be completed: " +
                             loaded.error().message);
  }
}

std::vector<events::Subscription> OrdersModule::Subscriptions() {
  // Paid orders become orders; confirmed refunds show on them (effects: once per service).
  return {{std::string(checkout::api::kSource),
           {std::string(checkout::api::kOrderPaid)},
           "orders",
           events::Delivery::kEffect,
           order_paid_subscriber_.get()},
          {std::string(checkout::api::kSource),
           {std::string(checkout::api::kPaymentRefunded)},
           "orders",
           events::Delivery::kEffect,
           payment_refunded_subscriber_.get()}};
}

void OrdersModule::RegisterRoutes(http::Router& router) {
  orders::RegisterRoutes(router, orders_);
}

std::vector<module::PeriodicTask> OrdersModule::PeriodicTasks() {
  OrdersService* orders = &orders_;
  return {{.name = "order-scheduler",
           .every = std::chrono::milliseconds(config_.orders.scheduler_interval_ms),
           .run = [orders]() -> boost::asio::awaitable<void> {
             // Drain every due transition, one bounded batch per transaction.
             while (co_await orders->RunSchedulerOnce() >= orders->scheduler_batch()) {
             }
           }}};
}

boost::asio::awaitable<std::vector<module::StoreHealth>> OrdersModule::CheckStores() {
  return module::CheckDatabases(Databases());
}

}  // namespace rocketmart::orders

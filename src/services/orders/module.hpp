// The orders module (ADR 0008): orders and their lifecycle on orders.db, the durable order
// scheduler (a periodic task), the operator's gauges. Consumes checkout's order.paid (creates the
// order) and payment.refunded; calls checkout for a paid purchase not relayed yet and for the
// per-sale figures (client ports). Serves members' OrdersClient.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "services/orders/clients/in_process/orders_client.hpp"
#include "services/orders/orders_service.hpp"
#include "services/orders/ports/order_store.hpp"
#include "services/orders/ports/payments_client.hpp"
#include "services/orders/ports/sale_figures_source.hpp"

namespace rocketmart::orders {

class OrderPaidSubscriber;
class PaymentRefundedSubscriber;

class OrdersModule final : public module::Module {
 public:
  // orders' database (SQLite or PostgreSQL, by [orders.database] url) and the order store on it.
  struct Stores {
    module::Database db;
    std::unique_ptr<OrderStore> orders;
  };
  static Stores OpenStores(const config::Config& config, metrics::Registry& metrics);

  // Checkout's side of orders: each must outlive the module.
  struct Clients {
    PaymentsClient& payments;
    SaleFiguresSource& sale_figures;
  };

  OrdersModule(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
               Stores stores, Clients clients);
  ~OrdersModule() override;

  // Served: members' my page.
  members::OrdersClient& orders_client() { return orders_client_; }

  std::string_view Name() const override { return "orders"; }
  std::vector<module::Database*> Databases() override { return {&stores_.db}; }
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
  OrdersService orders_;
  InProcessOrdersClient orders_client_;
  std::unique_ptr<OrderPaidSubscriber> order_paid_subscriber_;
  std::unique_ptr<PaymentRefundedSubscriber> payment_refunded_subscriber_;
};

}  // namespace rocketmart::orders

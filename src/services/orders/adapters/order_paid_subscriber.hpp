// Consumes checkout's order.paid events: each becomes an order, exactly once.
#pragma once

#include "infra/storage/outbox.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

class OrderPaidSubscriber final : public storage::EventSubscriber {
 public:
  explicit OrderPaidSubscriber(OrdersService& orders) : orders_(orders) {}
  std::string_view Name() const override { return "orders.order_paid"; }
  void Handle(std::span<const storage::Event> batch) override;

 private:
  OrdersService& orders_;
};

}  // namespace rocketmart::orders

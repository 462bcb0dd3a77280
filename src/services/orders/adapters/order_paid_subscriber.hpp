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
  // Throws storage::MalformedEvent when the payload is not an order.paid this build understands.
  static PaidOrderEvent Decode(const storage::Event& event);

  OrdersService& orders_;
};

}  // namespace rocketmart::orders

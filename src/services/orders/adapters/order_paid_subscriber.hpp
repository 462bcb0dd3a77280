// Consumes checkout's order.paid events (decoded by checkout's api/ codec): each becomes an order,
// exactly once (an effect: the orders store claims the event with the order).
#pragma once

#include "infra/events/event_bus.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

class OrderPaidSubscriber final : public events::EventSubscriber {
 public:
  explicit OrderPaidSubscriber(OrdersService& orders) : orders_(orders) {}
  std::string_view Name() const override { return "orders.order_paid"; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  OrdersService& orders_;
};

// Consumes checkout's payment.refunded events: the refund of a cancelled or returned order is
// confirmed on the order (GET /order/{id} shows refund.status REFUNDED), exactly once.
class PaymentRefundedSubscriber final : public events::EventSubscriber {
 public:
  explicit PaymentRefundedSubscriber(OrdersService& orders) : orders_(orders) {}
  std::string_view Name() const override { return "orders.payment_refunded"; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  OrdersService& orders_;
};

}  // namespace rocketmart::orders

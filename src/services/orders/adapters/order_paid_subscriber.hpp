// The orders service's consumers of checkout's events, on the event bus port (infra/events). Both
// are effects: the orders store claims each event in the transaction that applies it, so a batch
// redelivered (after a failure, a crash, or to another instance) changes nothing twice. Handle()
// runs on a bus thread and waits there for the store's commit; a store that sheds load makes it
// throw, and the bus retries the batch after a backoff.
//
// OrderPaidSubscriber consumes order.paid (decoded by checkout's api/ codec): each becomes an
// order, exactly once.
#pragma once

#include "infra/events/event_bus.hpp"
#include "services/orders/adapters/consumers.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

class OrderPaidSubscriber final : public events::EventSubscriber {
 public:
  explicit OrderPaidSubscriber(OrdersService& orders) : orders_(orders) {}
  std::string_view Name() const override { return kOrderPaidConsumer; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  OrdersService& orders_;
};

// Consumes checkout's payment.refunded events: the refund of a cancelled or returned order is
// confirmed on the order (GET /order/{id} shows refund.status REFUNDED), exactly once.
class PaymentRefundedSubscriber final : public events::EventSubscriber {
 public:
  explicit PaymentRefundedSubscriber(OrdersService& orders) : orders_(orders) {}
  std::string_view Name() const override { return kPaymentRefundedConsumer; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  OrdersService& orders_;
};

}  // namespace rocketmart::orders

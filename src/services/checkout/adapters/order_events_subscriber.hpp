// Consumes the orders service's order.cancelled and order.returned events: each refunds its
// payment and puts its units back on sale, exactly once (CheckoutService::RefundAndRestock claims
// the event and guards on the payment's status). Runs on the orders relay's thread.
#pragma once

#include "infra/events/event_bus.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

class OrderEventsSubscriber final : public events::EventSubscriber {
 public:
  explicit OrderEventsSubscriber(CheckoutService& checkout) : checkout_(checkout) {}
  std::string_view Name() const override { return CheckoutService::kRefundConsumer; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  CheckoutService& checkout_;
};

}  // namespace rocketmart::checkout

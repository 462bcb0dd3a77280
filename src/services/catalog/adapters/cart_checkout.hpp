// Checkout from the cart: POST /cart/checkout buys every cart line in one all-or-nothing purchase,
// at most once per cart (ShoppingService::CheckoutCart, through the CheckoutClient port), and an
// order.paid subscriber takes the bought lines out of the cart once the order exists.
#pragma once

#include "infra/events/event_bus.hpp"
#include "infra/http/router.hpp"
#include "services/catalog/shopping_service.hpp"

namespace rocketmart::catalog {

// The shopping service must have its CheckoutClient bound.
void RegisterCartCheckoutRoute(http::Router& router, ShoppingService& shopping);

// Consumes order.paid (from checkout's outbox): the bought lines leave the buyer's cart, unless
// the buyer changed them after paying. Harmless when delivered twice.
class PaidCartSubscriber final : public events::EventSubscriber {
 public:
  explicit PaidCartSubscriber(ShoppingService& shopping) : shopping_(shopping) {}
  std::string_view Name() const override { return "catalog.cart"; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  ShoppingService& shopping_;
};

}  // namespace rocketmart::catalog

// Consumes the catalog's product events into checkout's inventory (created -> stock row; updated
// -> price; retired -> no more sales). Runs on the catalog relay's thread; idempotent per event.
#pragma once

#include "infra/events/event_bus.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

class CatalogSubscriber final : public events::EventSubscriber {
 public:
  explicit CatalogSubscriber(CheckoutService& checkout) : checkout_(checkout) {}
  std::string_view Name() const override { return "checkout.inventory"; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  CheckoutService& checkout_;
};

}  // namespace rocketmart::checkout

// Consumes the catalog's product events (product.created|updated|retired, decoded by the
// catalog's api/ codec), as two subscriptions of different kinds:
//  - ProductInventorySubscriber, an effect (once per checkout service): the product's inventory row
//    in checkout.db (created -> stock row; updated -> price; retired -> no more sales), claimed by
//    event id in the row's transaction;
//  - ProductCacheSubscriber, a cache refresh (every checkout instance): the instance's memory of
//    price, retired flag and stock counter, idempotent by the product's version.
// Both run on the bus's thread for the catalog source.
#pragma once

#include <string>

#include "infra/events/event_bus.hpp"
#include "services/checkout/adapters/cache_subscriber.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

class ProductInventorySubscriber final : public events::EventSubscriber {
 public:
  explicit ProductInventorySubscriber(CheckoutService& checkout) : checkout_(checkout) {}
  std::string_view Name() const override { return CheckoutService::kInventoryConsumer; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  CheckoutService& checkout_;
};

class ProductCacheSubscriber final : public CacheSubscriber {
 public:
  explicit ProductCacheSubscriber(CheckoutService& checkout,
                                  std::string name = "checkout.product_cache")
      : CacheSubscriber(checkout, std::move(name)) {}
  void Handle(std::span<const events::Event> batch) override;
};

}  // namespace rocketmart::checkout

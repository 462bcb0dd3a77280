// Consumes checkout's own sale.changed events (decoded by checkout's api/ codec) as a cache
// refresh: every checkout instance brings its memory of the product's sale (window, per-member
// limit) up to the event, idempotent by the sale's version (CheckoutService::RefreshSale). Runs on
// the bus's thread for the checkout source.
#pragma once

#include <string>
#include <utility>

#include "services/checkout/adapters/cache_subscriber.hpp"

namespace rocketmart::checkout {

class SaleCacheSubscriber final : public CacheSubscriber {
 public:
  explicit SaleCacheSubscriber(CheckoutService& checkout, std::string name = "checkout.sale_cache")
      : CacheSubscriber(checkout, std::move(name)) {}
  void Handle(std::span<const events::Event> batch) override;
};

}  // namespace rocketmart::checkout

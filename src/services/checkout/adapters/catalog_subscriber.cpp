#include "services/checkout/adapters/catalog_subscriber.hpp"

#include "services/catalog/api/events.hpp"

namespace rocketmart::checkout {

void CatalogSubscriber::Handle(std::span<const events::Event> batch) {
  // Each event is applied (and claimed) on its own, so one decoded after others were applied
  // is still safe to set aside: the applied ones are claimed and skipped on redelivery.
  for (const events::Event& event : batch) {
    auto product =
        events::DecodedOrSetAside(event, catalog::api::DecodeProductEvent(event.payload));
    checkout_.OnProductFacts({product.product_id, product.price, product.initial_stock,
                              product.retired, product.version, std::move(product.name)},
                             event.id);
  }
}

}  // namespace rocketmart::checkout

#include "services/checkout/adapters/catalog_subscriber.hpp"

#include "services/catalog/api/events.hpp"

namespace rocketmart::checkout {
namespace {

ProductFacts Decode(const events::Event& event) {
  auto product = events::DecodedOrSetAside(event, catalog::api::DecodeProductEvent(event.payload));
  return ProductFacts{product.product_id, product.price,   product.initial_stock,
                      product.retired,    product.version, std::move(product.name)};
}

}  // namespace

void ProductInventorySubscriber::Handle(std::span<const events::Event> batch) {
  // Each event is applied (and claimed) on its own, so one decoded after others were applied
  // is still safe to set aside: the applied ones are claimed and skipped on redelivery.
  for (const events::Event& event : batch) checkout_.RecordProductFacts(Decode(event), event.id);
}

void ProductCacheSubscriber::Handle(std::span<const events::Event> batch) {
  // Idempotent by version: a redelivered batch, or one seen again after a malformed event was
  // set aside, changes nothing it already changed.
  for (const events::Event& event : batch) checkout_.RefreshProductFacts(Decode(event));
}

}  // namespace rocketmart::checkout

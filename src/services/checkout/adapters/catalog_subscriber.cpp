#include "services/checkout/adapters/catalog_subscriber.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"
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
  for (const events::Event& event : batch) {
    // Waits for the row's commit (this is the bus's thread); a refused write is retried by the
    // bus with the rest of the batch.
    const Status applied =
        async::RunToCompletion(checkout_.RecordProductFacts(Decode(event), event.id));
    if (!applied.ok()) throw std::runtime_error("checkout.inventory: " + applied.error().message);
  }
}

void ProductCacheSubscriber::Handle(std::span<const events::Event> batch) {
  // Idempotent by version: a redelivered batch, or one seen again after a malformed event was
  // set aside, changes nothing it already changed.
  for (const events::Event& event : batch) checkout_.RefreshProductFacts(Decode(event));
}

}  // namespace rocketmart::checkout

#include "services/checkout/adapters/sale_cache_subscriber.hpp"

#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

void SaleCacheSubscriber::Handle(std::span<const events::Event> batch) {
  // Idempotent by version: a redelivered batch, or one seen again after a malformed event was set
  // aside, changes nothing it already changed.
  for (const events::Event& event : batch) {
    const api::SaleChanged changed =
        events::DecodedOrSetAside(event, api::DecodeSaleChanged(event.payload));
    checkout_.RefreshSale(StoredSale{
        changed.product_id, Sale{changed.starts_at, changed.ends_at, changed.per_member_limit},
        changed.version});
  }
}

}  // namespace rocketmart::checkout

#include "services/checkout/adapters/order_events_subscriber.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"
#include "services/orders/api/events.hpp"

namespace rocketmart::checkout {

void OrderEventsSubscriber::Handle(std::span<const events::Event> batch) {
  for (const events::Event& event : batch) {
    // Earlier events of the batch were refunded and claimed: redelivery skips them.
    const auto reversed =
        events::DecodedOrSetAside(event, orders::api::DecodeOrderReversed(event.payload));
    // The lines in the event are informative: checkout restocks what its own hold recorded.
    // Waits on the bus's thread; a refused write is retried by the bus with the rest of the batch.
    const Result<bool> refunded =
        async::RunToCompletion(checkout_.RefundAndRestock(reversed.payment_id, event.id));
    if (!refunded.ok()) {
      throw std::runtime_error("checkout.order_refunds: " + refunded.error().message);
    }
  }
}

}  // namespace rocketmart::checkout

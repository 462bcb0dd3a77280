#include "services/checkout/adapters/order_events_subscriber.hpp"

#include <boost/json.hpp>

namespace rocketmart::checkout {

void OrderEventsSubscriber::Handle(std::span<const events::Event> batch) {
  for (const events::Event& event : batch) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(event.payload, ec);
    const boost::json::object* o = v.if_object();
    const boost::json::value* payment = o ? o->if_contains("paymentId") : nullptr;
    if (ec || payment == nullptr || !payment->is_int64()) {
      // Earlier events of the batch were refunded and claimed: redelivery skips them.
      throw events::MalformedEvent(event.id, event.topic + ": no integer paymentId");
    }
    // The lines in the event are informative: checkout restocks what its own hold recorded.
    checkout_.RefundAndRestock(payment->as_int64(), event.id);
  }
}

}  // namespace rocketmart::checkout

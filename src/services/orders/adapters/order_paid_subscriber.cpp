#include "services/orders/adapters/order_paid_subscriber.hpp"

#include <boost/json.hpp>

namespace rocketmart::orders {

void OrderPaidSubscriber::Handle(std::span<const events::Event> batch) {
  std::vector<PaidOrderEvent> events;
  events.reserve(batch.size());
  for (const events::Event& event : batch) {
    events.push_back(Decode(event));
  }
  orders_.OnOrdersPaid(events);
}

PaidOrderEvent OrderPaidSubscriber::Decode(const events::Event& event) {
  try {
    const boost::json::value v = boost::json::parse(event.payload);
    const auto& o = v.as_object();
    PaidOrderEvent e;
    e.event_id = event.id;
    e.order_id = o.at("orderId").to_number<std::int64_t>();
    e.payment_id = o.at("paymentId").to_number<std::int64_t>();
    e.member_id = o.at("memberId").to_number<std::int64_t>();
    e.total = o.at("total").to_number<std::int64_t>();
    e.paid_at = FromUnixMillis(o.at("paidAtMs").to_number<std::int64_t>());
    for (const auto& line : o.at("lines").as_array()) {
      const auto& l = line.as_object();
      OrderLine decoded{l.at("productId").to_number<std::int64_t>(),
                        l.at("quantity").to_number<std::int64_t>(),
                        l.at("price").to_number<std::int64_t>(),
                        {}};
      // Events written before names were carried have none: the line keeps an empty name.
      if (const auto* name = l.if_contains("name")) decoded.name = name->as_string();
      e.lines.push_back(std::move(decoded));
    }
    return e;
  } catch (const std::exception& e) {
    // Decoding failed (not JSON, a field missing or of another type): retrying cannot help.
    throw events::MalformedEvent(event.id, std::string("order.paid: ") + e.what());
  }
}

void PaymentRefundedSubscriber::Handle(std::span<const events::Event> batch) {
  std::vector<PaymentRefundedEvent> events;
  events.reserve(batch.size());
  for (const events::Event& event : batch) {
    try {
      const boost::json::value v = boost::json::parse(event.payload);
      const auto& o = v.as_object();
      events.push_back({event.id, o.at("orderId").to_number<std::int64_t>(),
                        o.at("amount").to_number<std::int64_t>(),
                        FromUnixMillis(o.at("refundedAtMs").to_number<std::int64_t>())});
    } catch (const std::exception& e) {
      // Thrown before anything was recorded: the rest of the batch is delivered again.
      throw events::MalformedEvent(event.id, std::string("payment.refunded: ") + e.what());
    }
  }
  orders_.OnPaymentsRefunded(events);
}

}  // namespace rocketmart::orders

#include "services/orders/adapters/order_paid_subscriber.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::orders {
namespace {

PaidOrderEvent ToPaidOrder(const events::Event& event) {
  checkout::api::OrderPaid paid =
      events::DecodedOrSetAside(event, checkout::api::DecodeOrderPaid(event.payload));
  PaidOrderEvent e{
      event.id, paid.order_id, paid.payment_id, paid.member_id, paid.total, paid.paid_at, {}};
  e.lines.reserve(paid.lines.size());
  for (auto& line : paid.lines) {
    e.lines.push_back({line.product_id, line.quantity, line.price, std::move(line.name)});
  }
  return e;
}

}  // namespace

void OrderPaidSubscriber::Handle(std::span<const events::Event> batch) {
  // Decoded before anything is recorded: a malformed event sets nothing aside but itself.
  std::vector<PaidOrderEvent> events;
  events.reserve(batch.size());
  for (const events::Event& event : batch) events.push_back(ToPaidOrder(event));
  auto created = async::RunToCompletion(orders_.OnOrdersPaid(std::move(events)));
  // Throwing makes the bus deliver the batch again after a backoff (the store shed load).
  if (!created.ok()) throw std::runtime_error("orders not recorded: " + created.error().message);
}

void PaymentRefundedSubscriber::Handle(std::span<const events::Event> batch) {
  std::vector<PaymentRefundedEvent> events;
  events.reserve(batch.size());
  for (const events::Event& event : batch) {
    const auto refunded =
        events::DecodedOrSetAside(event, checkout::api::DecodePaymentRefunded(event.payload));
    events.push_back({event.id, refunded.order_id, refunded.amount, refunded.refunded_at});
  }
  auto changed = async::RunToCompletion(orders_.OnPaymentsRefunded(std::move(events)));
  if (!changed.ok()) throw std::runtime_error("refunds not recorded: " + changed.error().message);
}

}  // namespace rocketmart::orders

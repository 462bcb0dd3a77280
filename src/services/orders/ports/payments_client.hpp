// Port: checkout's record of a paid purchase. An order is created from checkout's order.paid event,
// milliseconds after the purchase answered 201 {orderId}; when its owner asks for an order the
// orders service does not have yet, it asks checkout through this port and creates the order
// from the answer by the same idempotent path as the event (read-your-writes). Bound in the
// composition root (in-process: CheckoutService); distributed, an HTTP client: the call is
// awaitable and may fail (kUnavailable when checkout cannot be asked, which the member's request
// answers 503 UNAVAILABLE, never 500), and orders never reads checkout's tables.
//
// `deadline` is the member's request's (no default: every caller decides): the HTTP binding stops
// at it and passes the time left to checkout (X-Request-Deadline-Ms); the in-process binding reads
// checkout's database directly, waits for no other process, and ignores it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/orders/domain/order.hpp"

namespace rocketmart::orders {

class PaymentsClient {
 public:
  virtual ~PaymentsClient() = default;
  // The paid purchase behind `order_id`, as its order.paid event would carry it (event_id empty);
  // nullopt when checkout has no such payment. Thread-safe.
  virtual boost::asio::awaitable<Result<std::optional<PaidOrderEvent>>> PaidOrder(
      std::int64_t order_id, Deadline deadline) = 0;
};

}  // namespace rocketmart::orders

// The events the orders service publishes (source "orders"): topic names, the payload and its
// codec, used by the orders store to encode and by every consumer to decode. Versioning and errors
// as described in services/checkout/api/events.hpp (and docs/adr/0007-event-port.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::orders::api {

inline constexpr std::string_view kSource = "orders";

// A paid order was cancelled before shipping, or its return was received: its payment is due back.
inline constexpr std::string_view kOrderCancelled = "order.cancelled";
inline constexpr std::string_view kOrderReturned = "order.returned";
inline constexpr std::int64_t kOrderReversedVersion = 1;

struct OrderReversedLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  std::int64_t price = 0;
};

// The payload of both topics.
struct OrderReversed {
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t member_id = 0;
  std::int64_t total = 0;
  std::string status;  // "CANCELLED" or "RETURNED"
  std::vector<OrderReversedLine> lines;
};

std::string Encode(const OrderReversed& event);
Result<OrderReversed> DecodeOrderReversed(std::string_view payload);

}  // namespace rocketmart::orders::api

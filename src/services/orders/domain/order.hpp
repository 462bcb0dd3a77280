// Orders: what was bought, for how much, and where it is in its life. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"

namespace rocketmart::orders {

// PAID -> SHIPPING -> DELIVERED -> COMPLETED; PAID -> CANCELLED;
// DELIVERED -> RETURN_REQUESTED -> RETURNED.
enum class OrderStatus {
  kPaid,
  kShipping,
  kDelivered,
  kCompleted,
  kCancelled,
  kReturnRequested,
  kReturned
};

std::string_view OrderStatusName(OrderStatus status);
std::optional<OrderStatus> ParseOrderStatus(std::string_view name);

struct OrderLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  std::int64_t price = 0;  // unit price at purchase, minor units
};

struct StatusChange {
  OrderStatus status = OrderStatus::kPaid;
  TimePoint at;
  std::string cause;
};

struct Order {
  std::int64_t id = 0;  // equals the id of the payment that created it
  std::int64_t member_id = 0;
  std::int64_t payment_id = 0;
  OrderStatus status = OrderStatus::kPaid;
  std::int64_t total = 0;
  TimePoint created_at;
  TimePoint updated_at;
  std::vector<OrderLine> lines;
  std::vector<StatusChange> history;
};

// The order.paid event as the orders service reads it.
struct PaidOrderEvent {
  std::string event_id;
  std::int64_t order_id = 0;
  std::int64_t payment_id = 0;
  std::int64_t member_id = 0;
  std::int64_t total = 0;
  TimePoint paid_at;
  std::vector<OrderLine> lines;
};

inline constexpr std::size_t kMaxOrdersPage = 100;

}  // namespace rocketmart::orders

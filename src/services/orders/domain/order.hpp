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
  std::string name;        // the product's name when it was paid ("" for orders from before)
};

// One line of an order's history. kind is "transition" for a status change, "hold"/"release" for
// an operator pausing or resuming the schedule (status is then the unchanged current status).
struct StatusChange {
  OrderStatus status = OrderStatus::kPaid;
  TimePoint at;
  std::string cause;
  std::string kind = "transition";
  std::int64_t actor_id = 0;  // the admin (member id) who did it; 0 = the member or the schedule
};

// The next automatic transition of an order, as stored in the schedule.
struct PendingTransition {
  OrderStatus from = OrderStatus::kPaid;
  OrderStatus to = OrderStatus::kShipping;
  TimePoint due_at;
};

// Delays of the automatic transitions, each measured from the moment the previous transition was
// applied (so a late scheduler never collapses several steps into one moment):
//   PAID --ship_after--> SHIPPING --deliver_after--> DELIVERED --return_window--> COMPLETED
//   RETURN_REQUESTED --return_receive_after--> RETURNED
// Defaults: shipped D+1, delivered D+2, completed when the 7-day return window closes.
struct LifecycleOptions {
  Seconds ship_after{86'400};
  Seconds deliver_after{86'400};
  Seconds return_window{604'800};
  Seconds return_receive_after{86'400};
};

struct AutomaticStep {
  OrderStatus to = OrderStatus::kShipping;
  Seconds delay{0};
};

// The scheduler's step out of `from`, or nullopt for states that only a person leaves (none) or
// that are final.
std::optional<AutomaticStep> NextAutomatic(OrderStatus from, const LifecycleOptions& options);
bool IsFinal(OrderStatus status);
// The history line's cause for a step the scheduler took (every store writes the same words).
std::string_view ScheduledCause(OrderStatus to);

// The refund of a cancelled or returned order, as the orders service knows it. Checkout refunds on
// order.cancelled / order.returned and reports the provider's confirmation with payment.refunded.
enum class RefundStatus { kPending, kRefunded };
std::string_view RefundStatusName(RefundStatus status);

struct Refund {
  RefundStatus status = RefundStatus::kPending;
  std::int64_t amount = 0;
  std::optional<TimePoint> at;  // when the provider confirmed it
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
  bool on_hold = false;                   // an operator paused the schedule
  std::optional<TimePoint> delivered_at;  // start of the return window
  std::optional<PendingTransition> next;  // the scheduled automatic step, if any
  std::optional<Refund> refund;           // the refund checkout confirmed, if any (see RefundOf)
};

// The refund an order shows: the confirmed one, or a pending one of the order's total once it is
// CANCELLED or RETURNED; nullopt otherwise.
std::optional<Refund> RefundOf(const Order& order);

// checkout's payment.refunded event as the orders service reads it.
struct PaymentRefundedEvent {
  std::string event_id;
  std::int64_t order_id = 0;
  std::int64_t amount = 0;
  TimePoint refunded_at;
};

// A paid purchase as the orders service reads it: checkout's order.paid event, or checkout's record
// of the payment read through PaymentsClient before the event arrived (event_id empty).
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

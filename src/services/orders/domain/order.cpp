#include "services/orders/domain/order.hpp"

namespace rocketmart::orders {

std::string_view OrderStatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kPaid:
      return "PAID";
    case OrderStatus::kShipping:
      return "SHIPPING";
    case OrderStatus::kDelivered:
      return "DELIVERED";
    case OrderStatus::kCompleted:
      return "COMPLETED";
    case OrderStatus::kCancelled:
      return "CANCELLED";
    case OrderStatus::kReturnRequested:
      return "RETURN_REQUESTED";
    case OrderStatus::kReturned:
      return "RETURNED";
  }
  return "PAID";
}

std::optional<OrderStatus> ParseOrderStatus(std::string_view name) {
  for (OrderStatus s : {OrderStatus::kPaid, OrderStatus::kShipping, OrderStatus::kDelivered,
                        OrderStatus::kCompleted, OrderStatus::kCancelled,
                        OrderStatus::kReturnRequested, OrderStatus::kReturned}) {
    if (OrderStatusName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<AutomaticStep> NextAutomatic(OrderStatus from, const LifecycleOptions& options) {
  switch (from) {
    case OrderStatus::kPaid:
      return AutomaticStep{OrderStatus::kShipping, options.ship_after};
    case OrderStatus::kShipping:
      return AutomaticStep{OrderStatus::kDelivered, options.deliver_after};
    case OrderStatus::kDelivered:
      return AutomaticStep{OrderStatus::kCompleted, options.return_window};
    case OrderStatus::kReturnRequested:
      return AutomaticStep{OrderStatus::kReturned, options.return_receive_after};
    case OrderStatus::kCompleted:
    case OrderStatus::kCancelled:
    case OrderStatus::kReturned:
      return std::nullopt;
  }
  return std::nullopt;
}

bool IsFinal(OrderStatus status) {
  return status == OrderStatus::kCompleted || status == OrderStatus::kCancelled ||
         status == OrderStatus::kReturned;
}

std::string_view RefundStatusName(RefundStatus status) {
  return status == RefundStatus::kRefunded ? "REFUNDED" : "PENDING";
}

std::optional<Refund> RefundOf(const Order& order) {
  if (order.refund) return order.refund;
  if (order.status != OrderStatus::kCancelled && order.status != OrderStatus::kReturned) {
    return std::nullopt;
  }
  return Refund{RefundStatus::kPending, order.total, std::nullopt};
}

std::string_view ScheduledCause(OrderStatus to) {
  switch (to) {
    case OrderStatus::kShipping:
      return "shipped (scheduled)";
    case OrderStatus::kDelivered:
      return "delivered (scheduled)";
    case OrderStatus::kCompleted:
      return "return window closed (scheduled)";
    case OrderStatus::kReturned:
      return "return received (scheduled)";
    default:
      return "scheduled";
  }
}

}  // namespace rocketmart::orders

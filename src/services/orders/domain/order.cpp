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

}  // namespace rocketmart::orders

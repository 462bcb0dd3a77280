#include "services/orders/orders_service.hpp"

#include <algorithm>

namespace rocketmart::orders {

std::size_t OrdersService::OnOrdersPaid(std::span<const PaidOrderEvent> events) {
  return store_.RecordPaid(events, clock_.Now());
}

Result<OrderPage> OrdersService::ListForMember(std::int64_t member_id, std::int64_t before_id,
                                               std::size_t limit) {
  if (limit < 1 || limit > kMaxOrdersPage) {
    return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
  }
  OrderPage page;
  page.items = store_.ListForMember(member_id, before_id, limit + 1);
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_before_id = page.items.back().id;
  }
  return page;
}

Result<Order> OrdersService::GetForMember(std::int64_t member_id, std::int64_t order_id) {
  auto order = store_.Find(order_id);
  if (!order || order->member_id != member_id) {
    return MakeError(Errc::kNotFound, "no such order");
  }
  return std::move(*order);
}

}  // namespace rocketmart::orders

// The orders service: creates orders from checkout's order.paid events (idempotent by payment id)
// and answers a member's questions about their orders. Thread-safe.
#pragma once

#include <span>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/orders/ports/order_store.hpp"

namespace rocketmart::orders {

struct OrderPage {
  std::vector<Order> items;
  std::int64_t next_before_id = 0;  // 0 on the last page
};

class OrdersService {
 public:
  OrdersService(OrderStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  std::size_t OnOrdersPaid(std::span<const PaidOrderEvent> events);
  Result<OrderPage> ListForMember(std::int64_t member_id, std::int64_t before_id,
                                  std::size_t limit);
  // Another member's order answers kNotFound, exactly like a missing one.
  Result<Order> GetForMember(std::int64_t member_id, std::int64_t order_id);

 private:
  OrderStore& store_;
  const Clock& clock_;
};

}  // namespace rocketmart::orders

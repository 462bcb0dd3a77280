// Port: the orders service's durable state (orders.db). Implemented by adapters/sqlite_order_store.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "services/orders/domain/order.hpp"

namespace rocketmart::orders {

class OrderStore {
 public:
  virtual ~OrderStore() = default;
  // Creates the orders of a batch of order.paid events in one transaction, each exactly once (by
  // event id and by payment id). Blocks until committed; returns how many were new. Relay thread.
  virtual std::size_t RecordPaid(std::span<const PaidOrderEvent> events, TimePoint now) = 0;
  // Newest first; `before_id` 0 = from the newest. Reader connection.
  virtual std::vector<Order> ListForMember(std::int64_t member_id, std::int64_t before_id,
                                           std::size_t limit) = 0;
  // With lines and history.
  virtual std::optional<Order> Find(std::int64_t order_id) = 0;
};

}  // namespace rocketmart::orders

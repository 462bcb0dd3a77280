// Port: the orders service's durable state (orders.db). Implemented by adapters/sqlite_order_store.
//
// Every state change is one transaction that applies a guarded transition (the UPDATE names the
// status it expects), appends the history line, replaces the order's scheduled next step and, for
// cancel and received returns, appends the outbox event — all or nothing. The guard is what makes
// racing writers (a member's cancel against the scheduler, two scheduler instances) harmless: a
// transition applies once and the loser changes nothing.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "services/orders/domain/order.hpp"

namespace rocketmart::orders {

// Filters of the operator's order list; unset = any.
struct AdminOrderQuery {
  std::optional<OrderStatus> status;
  std::optional<std::int64_t> product_id;
  std::optional<std::int64_t> member_id;
  std::int64_t before_id = 0;  // 0 = from the newest
  std::size_t limit = 20;
};

// Orders and units of one product, per order status.
struct StatusTally {
  std::int64_t orders = 0;
  std::int64_t units = 0;
  std::int64_t amount = 0;  // sum of price * quantity of this product's lines
};

class OrderStore {
 public:
  virtual ~OrderStore() = default;
  // Creates the orders of a batch of order.paid events in one transaction, each exactly once (by
  // event id and by payment id), each with its first transition scheduled. Blocks until
  // committed; returns how many were new. Relay thread.
  virtual std::size_t RecordPaid(std::span<const PaidOrderEvent> events, TimePoint now) = 0;
  // Creates one order the way RecordPaid does (idempotent by payment id: a later order.paid for it
  // changes nothing) but without an event to claim: a member read or cancelled the order before
  // its event arrived. True when this call created it.
  virtual boost::asio::awaitable<Result<bool>> RecordPaidNow(PaidOrderEvent event) = 0;
  // Records checkout's confirmations of refunds on their orders, each event once (by event id; a
  // second confirmation of the same order changes nothing). Blocks until committed; returns how
  // many orders changed. Relay thread.
  virtual std::size_t RecordRefunds(std::span<const PaymentRefundedEvent> events,
                                    TimePoint now) = 0;
  // Start-up: gives every non-final order without a scheduled step one (orders created before the
  // schedule existed). Idempotent; returns how many were scheduled. Blocks.
  virtual std::size_t EnsureScheduled(TimePoint now) = 0;

  // Newest first; `before_id` 0 = from the newest. Reader connection.
  virtual std::vector<Order> ListForMember(std::int64_t member_id, std::int64_t before_id,
                                           std::size_t limit) = 0;
  // With lines, history and the next scheduled step.
  virtual std::optional<Order> Find(std::int64_t order_id) = 0;
  virtual std::vector<Order> ListForAdmin(const AdminOrderQuery& query) = 0;
  // How many orders ListForAdmin pages through (before_id and limit aside), when the store can
  // tell without a scan: kept counts per status, or one member's index range. nullopt with a
  // product filter.
  virtual std::optional<std::int64_t> CountForAdmin(const AdminOrderQuery& query) = 0;
  virtual std::int64_t CountForMember(std::int64_t member_id) = 0;
  virtual std::map<OrderStatus, StatusTally> TallyForProduct(std::int64_t product_id) = 0;

  // The scheduler: applies up to `limit` due steps of orders not on hold, in one transaction.
  // Returns how many transitions were applied.
  virtual boost::asio::awaitable<Result<std::size_t>> ApplyDue(TimePoint now,
                                                               std::size_t limit) = 0;
  // PAID -> CANCELLED for the owner. kNotFound (missing or another member's), kOrderNotCancellable.
  virtual boost::asio::awaitable<Result<Order>> Cancel(std::int64_t order_id,
                                                       std::int64_t member_id, TimePoint now) = 0;
  // DELIVERED -> RETURN_REQUESTED for the owner inside the window. kNotFound,
  // kReturnWindowClosed (delivered or completed, window over), kOrderNotReturnable (other states).
  virtual boost::asio::awaitable<Result<Order>> RequestReturn(std::int64_t order_id,
                                                              std::int64_t member_id,
                                                              TimePoint now) = 0;
  // Operator: applies the order's next automatic step now (on hold or not). kNotFound, kConflict
  // for a final order.
  // `actor_id` (the admin) is recorded in the history line.
  virtual boost::asio::awaitable<Result<Order>> Advance(std::int64_t order_id, std::string reason,
                                                        std::int64_t actor_id, TimePoint now) = 0;
  // Operator: pauses (`hold`) or resumes the schedule of an order. kNotFound, kConflict when the
  // order already is in that state or is final.
  virtual boost::asio::awaitable<Result<Order>> SetHold(std::int64_t order_id, bool hold,
                                                        std::string reason, std::int64_t actor_id,
                                                        TimePoint now) = 0;
};

}  // namespace rocketmart::orders

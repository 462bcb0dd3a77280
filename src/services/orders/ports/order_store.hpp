// Port: the orders service's durable state (orders.db). Implemented by adapters/sqlite_order_store;
// the contract is tests/contract/orders/order_store_contract.hpp.
//
// One convention: every call is awaitable and answers a Result (Errc::kOverloaded when the store
// sheds load; infrastructure failures throw). Reads may complete inline (an adapter that answers
// from its page cache does); every write completes only after its transaction committed.
//
// Every state change is one transaction that applies a guarded transition (the UPDATE names the
// status it expects), appends the history line, replaces the order's scheduled next step and, for
// cancel and received returns, publishes the order's event (order.cancelled / order.returned, on
// the store's transactional outbox) — all or nothing. The guard is what makes racing writers
// harmless: a transition applies once and the loser changes nothing.
//
// Several instances may share one store (several processes of the orders service). What each
// call promises then:
//  - ApplyDue claims its work: two schedulers running at once apply each due step exactly once
//    between them (the schedule row and the transition commit together; a step another instance
//    applied first is skipped, never repeated), and never to an order on hold.
//  - Cancel or RequestReturn racing the scheduler: exactly one of the two transitions out of the
//    order's status applies; the loser is refused (member) or skips the order (scheduler).
//  - RecordPaid is an effect claimed by event id and idempotent by payment id: a batch delivered
//    again, to the same or another instance, or racing RecordPaidNow for the same payment,
//    creates one order with one history. RecordRefunds likewise records a refund once per event
//    and once per order.
//  - SetHold and Advance are guarded like transitions: of two operators holding one order at once,
//    one succeeds and the other gets kConflict; an advance applies the step out of the status it
//    read, or none.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <optional>
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

  // --- Event consumers (effects; see docs/adr/0007-event-port.md) ---
  // Creates the orders of a batch of order.paid events in one transaction, each exactly once (by
  // event id and by payment id), each with its first transition scheduled. Returns how many were
  // new.
  virtual boost::asio::awaitable<Result<std::size_t>> RecordPaid(std::vector<PaidOrderEvent> events,
                                                                 TimePoint now) = 0;
  // Creates one order the way RecordPaid does (idempotent by payment id: a later order.paid for it
  // changes nothing) but without an event to claim: a member read or cancelled the order before
  // its event arrived. True when this call created it.
  virtual boost::asio::awaitable<Result<bool>> RecordPaidNow(PaidOrderEvent event) = 0;
  // Records checkout's confirmations of refunds on their orders, each event once (by event id; a
  // second confirmation of the same order changes nothing). Returns how many orders changed.
  virtual boost::asio::awaitable<Result<std::size_t>> RecordRefunds(
      std::vector<PaymentRefundedEvent> events, TimePoint now) = 0;

  // --- Start-up ---
  // Gives every non-final order without a scheduled step one (orders created before the schedule
  // existed). Idempotent, also when several instances start at once; returns how many were
  // scheduled.
  virtual boost::asio::awaitable<Result<std::size_t>> EnsureScheduled(TimePoint now) = 0;

  // --- Reads ---
  // Newest first; `before_id` 0 = from the newest.
  virtual boost::asio::awaitable<Result<std::vector<Order>>> ListForMember(std::int64_t member_id,
                                                                           std::int64_t before_id,
                                                                           std::size_t limit) = 0;
  virtual boost::asio::awaitable<Result<std::int64_t>> CountForMember(std::int64_t member_id) = 0;
  // With lines, history and the next scheduled step; nullopt when there is no such order.
  virtual boost::asio::awaitable<Result<std::optional<Order>>> Find(std::int64_t order_id) = 0;
  // Newest first, filtered; without history.
  virtual boost::asio::awaitable<Result<std::vector<Order>>> ListForAdmin(
      AdminOrderQuery query) = 0;
  // How many orders ListForAdmin pages through (before_id and limit aside), when the store can
  // tell without a scan: kept counts per status, or one member's index range. nullopt with a
  // product filter.
  virtual boost::asio::awaitable<Result<std::optional<std::int64_t>>> CountForAdmin(
      AdminOrderQuery query) = 0;
  // The orders with a line of the product, per status (statuses without one are absent).
  virtual boost::asio::awaitable<Result<std::map<OrderStatus, StatusTally>>> TallyForProduct(
      std::int64_t product_id) = 0;

  // --- Changes ---
  // The scheduler: applies up to `limit` due steps (due at or before `now`, earliest due first)
  // of orders not on hold, in one transaction. Returns how many transitions were applied. Claims
  // its work: see the promise for several instances above.
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
  // for a final order. `actor_id` (the admin) is recorded in the history line.
  virtual boost::asio::awaitable<Result<Order>> Advance(std::int64_t order_id, std::string reason,
                                                        std::int64_t actor_id, TimePoint now) = 0;
  // Operator: pauses (`hold`) or resumes the schedule of an order. kNotFound, kConflict when the
  // order already is in that state or is final.
  virtual boost::asio::awaitable<Result<Order>> SetHold(std::int64_t order_id, bool hold,
                                                        std::string reason, std::int64_t actor_id,
                                                        TimePoint now) = 0;
};

}  // namespace rocketmart::orders

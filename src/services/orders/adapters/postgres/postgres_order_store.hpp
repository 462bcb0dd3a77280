// OrderStore on the orders service's own PostgreSQL database (issue 13).
//
// Every change is one transaction (postgres::Transact) whose guarded UPDATE names the status it
// expects, as in the SQLite store: the guard alone makes a transition apply once whichever
// instance's transaction comes first (under READ COMMITTED the loser's UPDATE waits for the
// winner's row lock, re-reads the row and matches nothing). The scheduler claims its due steps
// with FOR UPDATE SKIP LOCKED on the schedule rows, so two schedulers take disjoint batches
// without waiting for each other; an operator's hold taken meanwhile is seen by the guard
// (`on_hold = false`). order.paid is claimed by event id (processed_events) and orders are unique
// by id and payment id (INSERT ... ON CONFLICT DO NOTHING), so a redelivery or a race with
// RecordPaidNow creates one order. Cancel and return events go to the outbox in the transaction.
// Counts per status are kept by a trigger (the admin list's total is a few rows read).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/orders/ports/order_store.hpp"

namespace rocketmart::orders {

// Creates or updates the orders tables (and the event tables) under the migration lock.
boost::asio::awaitable<Status> MigratePostgresOrders(postgres::Connection& connection);

class PostgresOrderStore final : public OrderStore {
 public:
  PostgresOrderStore(postgres::Pool& pool, LifecycleOptions lifecycle = {})
      : pool_(pool), lifecycle_(lifecycle) {}

  boost::asio::awaitable<Result<std::size_t>> RecordPaid(std::vector<PaidOrderEvent> events,
                                                         TimePoint now) override;
  boost::asio::awaitable<Result<bool>> RecordPaidNow(PaidOrderEvent event) override;
  boost::asio::awaitable<Result<std::size_t>> RecordRefunds(
      std::vector<PaymentRefundedEvent> events, TimePoint now) override;
  boost::asio::awaitable<Result<std::size_t>> EnsureScheduled(TimePoint now) override;

  boost::asio::awaitable<Result<std::vector<Order>>> ListForMember(std::int64_t member_id,
                                                                   std::int64_t before_id,
                                                                   std::size_t limit) override;
  boost::asio::awaitable<Result<std::int64_t>> CountForMember(std::int64_t member_id) override;
  boost::asio::awaitable<Result<std::optional<Order>>> Find(std::int64_t order_id) override;
  boost::asio::awaitable<Result<std::vector<Order>>> ListForAdmin(AdminOrderQuery query) override;
  boost::asio::awaitable<Result<std::optional<std::int64_t>>> CountForAdmin(
      AdminOrderQuery query) override;
  boost::asio::awaitable<Result<std::map<OrderStatus, StatusTally>>> TallyForProduct(
      std::int64_t product_id) override;

  boost::asio::awaitable<Result<std::size_t>> ApplyDue(TimePoint now, std::size_t limit) override;
  boost::asio::awaitable<Result<Order>> Cancel(std::int64_t order_id, std::int64_t member_id,
                                               TimePoint now) override;
  boost::asio::awaitable<Result<Order>> RequestReturn(std::int64_t order_id, std::int64_t member_id,
                                                      TimePoint now) override;
  boost::asio::awaitable<Result<Order>> Advance(std::int64_t order_id, std::string reason,
                                                std::int64_t actor_id, TimePoint now) override;
  boost::asio::awaitable<Result<Order>> SetHold(std::int64_t order_id, bool hold,
                                                std::string reason, std::int64_t actor_id,
                                                TimePoint now) override;

 private:
  postgres::Pool& pool_;
  const LifecycleOptions lifecycle_;
};

}  // namespace rocketmart::orders

// OrderStore on the orders service's own SQLite database (orders.db).
//
// The schedule lives in the table order_schedule (one row per order: its next automatic step and
// when it is due), written in the same transaction as the transition that created it, so a crash
// never forgets or repeats a step. Writes go through the database's single GroupCommitWriter;
// reads use per-thread reader connections. Thread-safe. Several instances (processes) over one
// file: each write job reads what it changes inside its own transaction (SQLite serializes the
// writers: BEGIN IMMEDIATE, busy timeout), and every change is guarded, so the promises of
// ports/order_store.hpp hold across instances.
#pragma once

#include <span>
#include <vector>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/orders/ports/order_store.hpp"

namespace rocketmart::orders {

std::span<const storage::Migration> OrdersMigrations();

class SqliteOrderStore final : public OrderStore {
 public:
  SqliteOrderStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers,
                   LifecycleOptions lifecycle = {})
      : writer_(writer), readers_(readers), lifecycle_(lifecycle) {}

  boost::asio::awaitable<Result<std::size_t>> RecordPaid(std::vector<PaidOrderEvent> events,
                                                         TimePoint now) override;
  boost::asio::awaitable<Result<bool>> RecordPaidNow(PaidOrderEvent event) override;
  boost::asio::awaitable<Result<std::size_t>> RecordRefunds(
      std::vector<PaymentRefundedEvent> events, TimePoint now) override;
  boost::asio::awaitable<Result<std::size_t>> EnsureScheduled(TimePoint now) override;

  // Reads run inline on this thread's reader connection (answered from the page cache).
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

  // Writes are jobs of the group-commit writer: each completes after its batch committed.
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
  std::optional<std::int64_t> Count(const AdminOrderQuery& query);

  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
  const LifecycleOptions lifecycle_;
};

}  // namespace rocketmart::orders

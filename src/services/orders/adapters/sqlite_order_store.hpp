// OrderStore on the orders service's own SQLite database (orders.db).
#pragma once

#include <span>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/orders/ports/order_store.hpp"

namespace rocketmart::orders {

std::span<const storage::Migration> OrdersMigrations();

class SqliteOrderStore final : public OrderStore {
 public:
  SqliteOrderStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  std::size_t RecordPaid(std::span<const PaidOrderEvent> events, TimePoint now) override;
  std::vector<Order> ListForMember(std::int64_t member_id, std::int64_t before_id,
                                   std::size_t limit) override;
  std::optional<Order> Find(std::int64_t order_id) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::orders

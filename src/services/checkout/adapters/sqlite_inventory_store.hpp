// InventoryStore on checkout's SQLite database (checkout.db). Every write is one job on the
// group-commit writer; guarded UPDATEs (available >= q, units + q <= limit, status = expected)
// make oversell, over-limit and double resolution impossible whatever memory believed.
#pragma once

#include <shared_mutex>
#include <span>
#include <unordered_map>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/checkout/ports/inventory_store.hpp"

namespace rocketmart::checkout {

std::span<const storage::Migration> CheckoutMigrations();

class SqliteInventoryStore final : public InventoryStore {
 public:
  SqliteInventoryStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  std::vector<InventoryRow> LoadInventory() override;
  std::vector<std::pair<std::int64_t, Sale>> LoadSales() override;
  std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, std::int64_t>> LoadMemberUnits()
      override;
  std::vector<std::int64_t> HoldsInStatus(HoldStatus status) override;
  std::vector<InvariantReport> CheckInvariants() override;

  std::optional<IdempotencyEntry> FindIdempotency(std::int64_t member_id,
                                                  std::string_view key) override;
  std::optional<HoldOutcome> FindHold(std::int64_t hold_id) override;
  std::optional<PaidPurchase> FindPaidPurchase(std::int64_t payment_id) override;
  OpenHoldsPage OpenHolds(std::int64_t member_id, TimePoint now, std::int64_t before_id,
                          std::size_t limit) override;

  boost::asio::awaitable<Result<Hold>> PlaceHold(HoldRequest request) override;
  boost::asio::awaitable<Result<Hold>> BeginPayment(
      std::int64_t hold_id, std::int64_t member_id, TimePoint now,
      std::optional<IdempotencyTag> idempotency) override;
  boost::asio::awaitable<Result<PaidOrder>> CompletePayment(std::int64_t hold_id,
                                                            ChargeRecord charge,
                                                            TimePoint now) override;
  boost::asio::awaitable<Result<ReleasedUnits>> ReleaseHold(std::int64_t hold_id,
                                                            std::int64_t member_id, HoldStatus from,
                                                            ReleaseReason reason,
                                                            TimePoint now) override;
  boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> ExpireDue(TimePoint now,
                                                                       std::size_t limit) override;
  boost::asio::awaitable<Result<std::size_t>> ForgetIdempotencyKeys(TimePoint created_before,
                                                                    std::size_t limit) override;
  boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                       std::int64_t quantity,
                                                       TimePoint now) override;
  boost::asio::awaitable<Status> SaveSale(std::int64_t product_id, Sale sale,
                                          TimePoint now) override;
  std::optional<InventoryRow> ApplyProductFacts(const ProductFacts& facts,
                                                std::string_view event_id, TimePoint now) override;
  std::optional<RefundedPayment> RefundPayment(std::int64_t payment_id, std::string_view consumer,
                                               std::string_view event_id, TimePoint now) override;
  std::vector<RefundedPayment> PendingRefunds(std::size_t limit) override;
  void SettleRefund(std::int64_t payment_id, TimePoint now) override;
  std::optional<ProductSaleFigures> SaleFigures(std::int64_t product_id) override;

 private:
  static std::uint64_t KeyHash(std::int64_t member_id, std::string_view key);
  void RememberKey(std::int64_t member_id, std::string_view key);

  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
  // Hashes of the keys that have a durable record, with how many records share each hash. A
  // request whose key has none (every first attempt, every sold-out retry) is answered without
  // reading the database; a hash collision only costs that read. Counted, so forgetting one key
  // never hides another with the same hash. Warmed by LoadInventory at start; 16 bytes a key.
  mutable std::shared_mutex keys_mutex_;
  std::unordered_map<std::uint64_t, std::uint32_t> known_keys_;
};

}  // namespace rocketmart::checkout

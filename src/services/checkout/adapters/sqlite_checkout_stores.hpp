// Checkout's storage ports on its SQLite database (checkout.db), one class per port over the same
// group-commit writer and reader connections. Every write is one job on the writer (grouped with
// other requests' jobs into one transaction per fsync); guarded UPDATEs (available >= q,
// units + q <= limit, status = expected, lease ran out) make oversell, over-limit and double
// resolution impossible whatever memory believed, with any number of instances over the file
// (each its own writer: their transactions serialize on SQLite's write lock). Reads run inline on
// the calling thread's reader connection. No store keeps a copy of the database in memory.
#pragma once

#include <string>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/checkout/adapters/sqlite_checkout_schema.hpp"
#include "services/checkout/ports/hold_store.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/refund_store.hpp"
#include "services/checkout/ports/sale_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout {

class SqliteStockStore final : public StockStore {
 public:
  SqliteStockStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  std::vector<InventoryRow> LoadInventory() override;
  MemberUnitsByProduct LoadMemberUnits() override;
  boost::asio::awaitable<Result<std::optional<InventoryRow>>> ApplyProductFacts(
      ProductFacts facts, std::string consumer, std::string event_id, TimePoint now) override;
  boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                       std::int64_t quantity,
                                                       TimePoint now) override;
  boost::asio::awaitable<Result<StockSnapshot>> Snapshot(std::int64_t product_id) override;
  boost::asio::awaitable<Result<std::vector<InvariantReport>>> CheckInvariants() override;
  boost::asio::awaitable<Result<std::optional<ProductSaleFigures>>> SaleFigures(
      std::int64_t product_id) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

class SqliteSaleStore final : public SaleStore {
 public:
  explicit SqliteSaleStore(storage::GroupCommitWriter& writer) : writer_(writer) {}

  std::vector<StoredSale> LoadSales() override;
  boost::asio::awaitable<Result<std::int64_t>> SaveSale(std::int64_t product_id, Sale sale,
                                                        TimePoint now) override;

 private:
  storage::GroupCommitWriter& writer_;
};

class SqliteHoldStore final : public HoldStore {
 public:
  SqliteHoldStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  boost::asio::awaitable<Result<Hold>> PlaceHold(HoldRequest request) override;
  boost::asio::awaitable<Result<Hold>> BeginPayment(std::int64_t hold_id, std::int64_t member_id,
                                                    TimePoint now,
                                                    std::optional<IdempotencyTag> idempotency,
                                                    std::string worker,
                                                    TimePoint lease_until) override;
  boost::asio::awaitable<Result<PaidOrder>> CompletePayment(std::int64_t hold_id,
                                                            ChargeRecord charge,
                                                            TimePoint now) override;
  boost::asio::awaitable<Result<ReleasedUnits>> ReleaseHold(std::int64_t hold_id,
                                                            std::int64_t member_id, HoldStatus from,
                                                            ReleaseReason reason,
                                                            TimePoint now) override;
  boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> ExpireDue(TimePoint now,
                                                                       std::size_t limit) override;
  boost::asio::awaitable<Result<std::vector<std::int64_t>>> ClaimStalePayments(
      std::string worker, TimePoint now, TimePoint lease_until, bool include_own,
      std::size_t limit) override;
  boost::asio::awaitable<Result<std::optional<HoldOutcome>>> FindHold(
      std::int64_t hold_id) override;
  boost::asio::awaitable<Result<std::optional<PaidPurchase>>> FindPaidPurchase(
      std::int64_t payment_id) override;
  boost::asio::awaitable<Result<OpenHoldsPage>> OpenHolds(std::int64_t member_id, TimePoint now,
                                                          std::int64_t before_id,
                                                          std::size_t limit) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

class SqliteRefundStore final : public RefundStore {
 public:
  explicit SqliteRefundStore(storage::GroupCommitWriter& writer) : writer_(writer) {}

  boost::asio::awaitable<Result<std::optional<RefundedPayment>>> RefundPayment(
      std::int64_t payment_id, std::string consumer, std::string event_id, std::string worker,
      TimePoint lease_until, TimePoint now) override;
  boost::asio::awaitable<Result<std::vector<RefundedPayment>>> ClaimPendingRefunds(
      std::string worker, TimePoint now, TimePoint lease_until, std::size_t limit) override;
  boost::asio::awaitable<Status> ReleaseRefund(std::int64_t payment_id,
                                               std::string worker) override;
  boost::asio::awaitable<Result<bool>> SettleRefund(std::int64_t payment_id,
                                                    TimePoint now) override;

 private:
  storage::GroupCommitWriter& writer_;
};

class SqliteIdempotencyStore final : public IdempotencyStore {
 public:
  SqliteIdempotencyStore(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  void LoadKeys(const std::function<void(std::int64_t, std::string_view)>& visit) override;
  boost::asio::awaitable<Result<std::optional<IdempotencyEntry>>> Find(std::int64_t member_id,
                                                                       std::string key) override;
  boost::asio::awaitable<Result<std::vector<IdempotencyKeyRef>>> Forget(TimePoint created_before,
                                                                        std::size_t limit) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

// The five stores over one checkout.db, as the composition root and the tests build them.
struct SqliteCheckoutStores {
  SqliteCheckoutStores(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : stock(writer, readers),
        sales(writer),
        holds(writer, readers),
        refunds(writer),
        idempotency(writer, readers) {}
  SqliteStockStore stock;
  SqliteSaleStore sales;
  SqliteHoldStore holds;
  SqliteRefundStore refunds;
  SqliteIdempotencyStore idempotency;
};

}  // namespace rocketmart::checkout

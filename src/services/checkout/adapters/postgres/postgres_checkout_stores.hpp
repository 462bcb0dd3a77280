// Checkout's storage ports on PostgreSQL (issue 13), one class per port over one connection pool
// on checkout's own database, which also holds its event outbox and consumer claims
// (events/postgres_outbox: order.paid and payment.refunded are appended, catalog and orders events
// claimed, in the transaction of their effect). Several instances (processes, pools) may share
// the database; the promises are the SQLite adapters' (ports/*.hpp), kept by the server:
//   - guarded UPDATEs (available >= q, units + q <= limit, status = expected, lease ran out) are
//     the truth: READ COMMITTED re-checks a guard on the row's latest version after waiting for
//     its lock, so stock never goes negative, a limit is never passed, a hold resolves once;
//   - every transition of a hold locks its row first (FOR UPDATE), so a payment, a cancel and a
//     sweeper on any instances serialize on it; sweepers and resolvers claim work with
//     FOR UPDATE SKIP LOCKED (two sweepers never wait for or take the same hold);
//   - idempotency records and event claims are INSERT ... ON CONFLICT DO NOTHING in the effect's
//     transaction: of N concurrent first requests one inserts, the others wait for its commit and
//     then see the record (or, if it rolled back, one of them claims it).
//
// Holds are group-committed: PlaceHold queues the request, and up to `max_batches` flushers send
// what is queued (up to `max_batch` holds) as one pipeline of checkout_place_hold() calls (one
// round trip, one implicit transaction, one commit). Each call is its own subtransaction, so one
// hold's refusal (sold out, limit, key taken) leaves the others of the batch untouched. A deadlock
// or serialization failure of a batch (nothing of it committed) retries the batch.
//
// Payments are group-committed too: CompletePayment queues, and a flusher sends up to
// `max_batch` of them as one transaction in two round trips: BEGIN and a
// checkout_complete_payment() call per payment (each locks its hold, marks it PAID, writes its
// payment and ledger rows, or answers why not), then the order.paid outbox rows, one
// checkout_sell_held() for the batch (held -> sold, one UPDATE per product with the summed units)
// and COMMIT. The hot inventory row is locked last, once per batch, for little more than the
// commit. A refusal (no such
// hold, not awaiting payment) writes nothing and answers that payment alone; an unexpected failure
// of a batch (nothing committed) replays it payment by payment, so only the faulty one fails.
//
// Payments are begun (ACTIVE -> PAYING, the key claimed) in batches too: a flusher sends up to
// `max_begin_batch` checkout_begin_payment() calls, in hold id order, as one pipeline, one
// implicit transaction; a refusal deletes the key it claimed and leaves the others untouched.
//
// Releases by id (a cancel, a declined payment) are group-committed the same way: a flusher sends
// up to `max_release_batch` of them as one pipeline, one implicit transaction: the batch's holds
// locked in id order, then one guarded release statement per hold (each locks its products'
// inventory rows, in the order every transaction keeps: holds first). The inventory row of a drop's
// product is locked once per batch, never across a round trip.
//
// Every other write is one transaction (postgres::Transact). Start-up loads block the calling
// thread (start-up only, as the ports say).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/checkout/ports/hold_store.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/refund_store.hpp"
#include "services/checkout/ports/sale_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout {

// Creates or updates checkout's tables (and its event tables) under the migration lock.
boost::asio::awaitable<Status> MigratePostgresCheckout(postgres::Connection& connection);

class PostgresStockStore final : public StockStore {
 public:
  explicit PostgresStockStore(postgres::Pool& pool) : pool_(pool) {}

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
  postgres::Pool& pool_;
};

class PostgresSaleStore final : public SaleStore {
 public:
  explicit PostgresSaleStore(postgres::Pool& pool) : pool_(pool) {}

  std::vector<StoredSale> LoadSales() override;
  boost::asio::awaitable<Result<std::int64_t>> SaveSale(std::int64_t product_id, Sale sale,
                                                        TimePoint now) override;

 private:
  postgres::Pool& pool_;
};

// How PlaceHold and CompletePayment batch (docs/postgres.md has the measurements). A batch keeps
// its products' inventory rows locked until it commits, so batches over one hot product run one
// after another: more flushers help only across products; while one commits, the next batch fills.
struct HoldBatching {
  std::size_t max_batch = 50;   // holds per pipeline (and per commit; each is a subtransaction)
  std::size_t max_batches = 2;  // pipelines in flight at once (each uses one pooled connection)
  std::size_t max_payment_batch = 100;  // payments completed per transaction
  std::size_t max_payment_batches = 2;  // payment transactions in flight at once
  std::size_t max_release_batch = 50;   // holds released per transaction (cancels, declines)
  std::size_t max_release_batches = 2;  // release transactions in flight at once
  std::size_t max_begin_batch = 50;     // payments begun per transaction
  std::size_t max_begin_batches = 2;    // begin transactions in flight at once
};

namespace postgres_internal {
template <class Request, class Answer>
struct Queued;
template <class Request, class Answer>
class GroupCommit;
}  // namespace postgres_internal

class PostgresHoldStore final : public HoldStore {
 public:
  PostgresHoldStore(postgres::Pool& pool, HoldBatching batching = {});
  ~PostgresHoldStore() override;

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

  // Holds placed (or payments completed) and the transactions that committed them so far (how
  // well they are batched).
  struct BatchStats {
    std::uint64_t holds = 0;
    std::uint64_t batches = 0;
  };
  BatchStats batch_stats() const;
  BatchStats payment_batch_stats() const;
  BatchStats release_batch_stats() const;
  BatchStats begin_batch_stats() const;

 private:
  struct PaymentRequest {
    std::int64_t hold_id = 0;
    ChargeRecord charge;
    TimePoint now;
  };
  struct ReleaseRequest {
    std::int64_t hold_id = 0;
    std::int64_t member_id = 0;
    HoldStatus from = HoldStatus::kActive;
    ReleaseReason reason = ReleaseReason::kCancelled;
    TimePoint now;
  };
  struct BeginRequest {
    std::int64_t hold_id = 0;
    std::int64_t member_id = 0;
    TimePoint now;
    std::optional<IdempotencyTag> idempotency;
    std::string worker;
    TimePoint lease_until;
  };
  using HoldQueue = postgres_internal::GroupCommit<HoldRequest, Hold>;
  using PaymentQueue = postgres_internal::GroupCommit<PaymentRequest, PaidOrder>;
  // nullopt: nothing released (the guards refused it; a read says why).
  using ReleaseQueue = postgres_internal::GroupCommit<ReleaseRequest, std::optional<ReleasedUnits>>;
  using BeginQueue = postgres_internal::GroupCommit<BeginRequest, Hold>;
  boost::asio::awaitable<void> RunHoldBatch(
      std::vector<std::shared_ptr<postgres_internal::Queued<HoldRequest, Hold>>> batch);
  boost::asio::awaitable<void> RunPaymentBatch(
      std::vector<std::shared_ptr<postgres_internal::Queued<PaymentRequest, PaidOrder>>> batch);
  // One transaction completing `batch` (in order): an answer per payment, or why the whole
  // transaction failed (nothing of it committed, or its outcome unknown).
  boost::asio::awaitable<Result<std::vector<Result<PaidOrder>>>> CompletePayments(
      std::vector<PaymentRequest> batch);
  boost::asio::awaitable<void> RunReleaseBatch(
      std::vector<
          std::shared_ptr<postgres_internal::Queued<ReleaseRequest, std::optional<ReleasedUnits>>>>
          batch);

  boost::asio::awaitable<void> RunBeginBatch(
      std::vector<std::shared_ptr<postgres_internal::Queued<BeginRequest, Hold>>> batch);

  postgres::Pool& pool_;
  std::unique_ptr<HoldQueue> hold_queue_;
  std::unique_ptr<PaymentQueue> payment_queue_;
  std::unique_ptr<ReleaseQueue> release_queue_;
  std::unique_ptr<BeginQueue> begin_queue_;
};

class PostgresRefundStore final : public RefundStore {
 public:
  explicit PostgresRefundStore(postgres::Pool& pool) : pool_(pool) {}

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
  postgres::Pool& pool_;
};

class PostgresIdempotencyStore final : public IdempotencyStore {
 public:
  explicit PostgresIdempotencyStore(postgres::Pool& pool) : pool_(pool) {}

  void LoadKeys(const std::function<void(std::int64_t, std::string_view)>& visit) override;
  boost::asio::awaitable<Result<std::optional<IdempotencyEntry>>> Find(std::int64_t member_id,
                                                                       std::string key) override;
  boost::asio::awaitable<Result<std::vector<IdempotencyKeyRef>>> Forget(TimePoint created_before,
                                                                        std::size_t limit) override;

 private:
  postgres::Pool& pool_;
};

// The five stores over one pool on checkout's database, as the composition root and the tests
// build them.
struct PostgresCheckoutStores {
  explicit PostgresCheckoutStores(postgres::Pool& pool, HoldBatching batching = {})
      : stock(pool), sales(pool), holds(pool, batching), refunds(pool), idempotency(pool) {}
  PostgresStockStore stock;
  PostgresSaleStore sales;
  PostgresHoldStore holds;
  PostgresRefundStore refunds;
  PostgresIdempotencyStore idempotency;
};

}  // namespace rocketmart::checkout

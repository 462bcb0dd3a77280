// The HoldStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores), and what only that adapter
// promises: payments are group-committed (many purchases' completions in one transaction), and
// a payment refused or failing inside a batch fails alone.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <map>

#include "contract/checkout/hold_store_contract.hpp"
#include "contract/checkout/postgres_checkout_stores.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, HoldStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

namespace {

namespace asio = boost::asio;

asio::awaitable<void> CompleteInto(HoldStore& holds, std::int64_t hold_id, std::string ref,
                                   TimePoint now, std::optional<Result<PaidOrder>>& out) {
  ChargeRecord charge{ChargeOutcome::kCaptured, std::move(ref)};
  auto paid = co_await holds.CompletePayment(hold_id, std::move(charge), now);
  out.emplace(std::move(paid));
}

asio::awaitable<void> ReleaseInto(HoldStore& holds, std::int64_t hold_id, std::int64_t member_id,
                                  TimePoint now, std::optional<Result<ReleasedUnits>>& out) {
  auto released = co_await holds.ReleaseHold(hold_id, member_id, HoldStatus::kActive,
                                             ReleaseReason::kCancelled, now);
  out.emplace(std::move(released));
}

asio::awaitable<void> BeginInto(HoldStore& holds, std::int64_t hold_id, std::int64_t member_id,
                                std::optional<IdempotencyTag> tag, TimePoint now,
                                std::optional<Result<Hold>>& out) {
  auto lease_until = now + std::chrono::minutes(1);
  auto begun =
      co_await holds.BeginPayment(hold_id, member_id, now, std::move(tag), "worker-a", lease_until);
  out.emplace(std::move(begun));
}

}  // namespace

class PostgresPaymentBatching : public CheckoutStoresTest {
 protected:
  PostgresCheckoutStoresFixture& Fixture() {
    return dynamic_cast<PostgresCheckoutStoresFixture&>(*fixture_);
  }
  postgres::Rows Sql(const std::string& sql) {
    postgres::PoolSettings settings;
    settings.connect.conninfo = Fixture().conninfo();
    settings.size = 1;
    postgres::Pool pool(settings);
    auto run = [](postgres::Pool& pool,
                  std::string sql) -> asio::awaitable<Result<postgres::Rows>> {
      auto lease = co_await pool.Acquire();
      if (!lease.ok()) co_return std::move(lease).error();
      co_return co_await (*lease)->Query(sql);
    };
    return Ok(Await(run(pool, sql)));
  }
  std::int64_t SqlInt(const std::string& sql) { return Sql(sql).Int64(0, 0); }
  // `n` holds of one unit, member 1000 + i's the i-th, ACTIVE (awaiting payment).
  std::vector<std::int64_t> ActiveHolds(int n) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(Place(Request(1000 + i)).id);
    return ids;
  }
  // `n` holds of one unit, each its own member's, placed in PAYING as a one-shot purchase does.
  std::vector<std::int64_t> PayingHolds(int n) {
    std::vector<std::int64_t> ids;
    for (int i = 0; i < n; ++i) {
      HoldRequest r = Request(1000 + i);
      r.pay_now = true;
      r.worker = "worker-a";
      r.payment_lease_until = Now() + std::chrono::minutes(1);
      ids.push_back(Place(std::move(r)).id);
    }
    return ids;
  }
  // Every payment's completion started together on one event loop, as concurrent requests are.
  std::vector<Result<PaidOrder>> CompleteTogether(const std::vector<std::int64_t>& ids,
                                                  const std::string& poisoned_ref = {}) {
    asio::io_context io;
    std::vector<std::optional<Result<PaidOrder>>> answers(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::string ref =
          i == 1 && !poisoned_ref.empty() ? poisoned_ref : "ref-" + std::to_string(ids[i]);
      asio::co_spawn(io, CompleteInto(A().holds, ids[i], std::move(ref), Now(), answers[i]),
                     asio::detached);
    }
    io.run();
    std::vector<Result<PaidOrder>> out;
    for (auto& a : answers) {
      EXPECT_TRUE(a.has_value());
      out.push_back(a ? std::move(*a) : MakeError(Errc::kInternal, "not answered"));
    }
    return out;
  }
  // Transactions that wrote the payments (a row's xmin is its transaction's id).
  std::int64_t PaymentTransactions() {
    return SqlInt("SELECT count(DISTINCT xmin::text) FROM payments");
  }
};

TEST_P(PostgresPaymentBatching, ConcurrentPaymentsCommitTogetherWithTheirOrderPaidEvents) {
  constexpr int kPayments = 64;
  Product(kPayments);
  const std::vector<std::int64_t> ids = PayingHolds(kPayments);
  const auto answers = CompleteTogether(ids);
  std::set<std::int64_t> payment_ids;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const PaidOrder& paid = Ok(answers[i]);
    EXPECT_EQ(paid.hold_id, ids[i]);
    EXPECT_EQ(paid.order_id, paid.payment_id);
    EXPECT_EQ(paid.total, kPrice);
    ASSERT_EQ(paid.lines.size(), 1u);
    EXPECT_EQ(paid.lines[0].quantity, 1);
    payment_ids.insert(paid.payment_id);
    EXPECT_EQ(StatusOf(ids[i]), HoldStatus::kPaid);
  }
  EXPECT_EQ(payment_ids.size(), static_cast<std::size_t>(kPayments));
  // One transaction per payment before batching; a handful now (the first callers flush alone,
  // the rest wait for them and go together).
  EXPECT_LE(PaymentTransactions(), 8) << "payments were not group-committed";
  const auto stats = Fixture().holds().payment_batch_stats();
  EXPECT_EQ(stats.holds, static_cast<std::uint64_t>(kPayments));
  EXPECT_LE(stats.batches, 8u);
  // Stock moved held -> sold once per payment (summed per product per batch), and each payment
  // has its order.paid, naming its payment.
  const StockSnapshot snapshot = Ok(Await(A().stock.Snapshot(kProduct)));
  EXPECT_EQ(snapshot.available, 0);
  EXPECT_EQ(SqlInt("SELECT held FROM inventory WHERE product_id = 1"), 0);
  EXPECT_EQ(SqlInt("SELECT sold FROM inventory WHERE product_id = 1"), kPayments);
  const postgres::Rows events =
      Sql("SELECT payload FROM outbox WHERE topic = 'order.paid' ORDER BY seq");
  ASSERT_EQ(events.size(), kPayments);
  std::set<std::int64_t> event_payments;
  for (int i = 0; i < events.size(); ++i) {
    const api::OrderPaid event = Ok(api::DecodeOrderPaid(events.Text(i, 0)));
    ASSERT_EQ(event.lines.size(), 1u);
    EXPECT_EQ(event.lines[0].name, "Drop");
    event_payments.insert(event.payment_id);
  }
  EXPECT_EQ(event_payments, payment_ids);
  // Completing them again answers the same orders and writes nothing more.
  const auto again = CompleteTogether(ids);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(Ok(again[i]).payment_id, Ok(answers[i]).payment_id);
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM outbox WHERE topic = 'order.paid'"), kPayments);
  EXPECT_EQ(SqlInt("SELECT sold FROM inventory WHERE product_id = 1"), kPayments);
  ExpectInvariants();
}

TEST_P(PostgresPaymentBatching, ARefusedPaymentInABatchRefusesOnlyItself) {
  constexpr int kPayments = 32;
  Product(kPayments);
  std::vector<std::int64_t> ids = PayingHolds(kPayments);
  // One hold was declined meanwhile; one id names no hold.
  Ok(Await(A().holds.ReleaseHold(ids[5], 0, HoldStatus::kPaying, ReleaseReason::kDeclined, Now())));
  ids.push_back(ids.back() + 1000);
  const auto answers = CompleteTogether(ids);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (i == 5) {
      ASSERT_FALSE(answers[i].ok());
      EXPECT_EQ(answers[i].error().code, Errc::kHoldNotActive);
    } else if (i == answers.size() - 1) {
      ASSERT_FALSE(answers[i].ok());
      EXPECT_EQ(answers[i].error().code, Errc::kNotFound);
    } else {
      EXPECT_TRUE(answers[i].ok()) << "payment " << i;
    }
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM payments"), kPayments - 1);
  EXPECT_LE(PaymentTransactions(), 8);
  EXPECT_EQ(StatusOf(ids[5]), HoldStatus::kReleased);
  EXPECT_EQ(Available(), 1) << "the declined hold's unit is back";
  EXPECT_EQ(SqlInt("SELECT count(*) FROM outbox WHERE topic = 'order.paid'"), kPayments - 1);
  ExpectInvariants();
}

TEST_P(PostgresPaymentBatching, AStatementFailingInABatchFailsOnlyItsPayment) {
  constexpr int kPayments = 16;
  Product(kPayments);
  const std::vector<std::int64_t> ids = PayingHolds(kPayments);
  // A fault the adapter does not expect, for one payment: the server refuses its row.
  Sql("ALTER TABLE payments ADD CONSTRAINT poisoned CHECK (provider_ref <> 'poison')");
  const auto answers = CompleteTogether(ids, "poison");
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (i == 1) {
      ASSERT_FALSE(answers[i].ok());
      EXPECT_EQ(answers[i].error().code, Errc::kInternal);
    } else {
      EXPECT_TRUE(answers[i].ok()) << "payment " << i << " failed with the poisoned one";
    }
  }
  EXPECT_EQ(StatusOf(ids[1]), HoldStatus::kPaying) << "the failed payment left nothing";
  EXPECT_EQ(SqlInt("SELECT count(*) FROM payments"), kPayments - 1);
  EXPECT_EQ(SqlInt("SELECT sold FROM inventory WHERE product_id = 1"), kPayments - 1);
  EXPECT_EQ(SqlInt("SELECT held FROM inventory WHERE product_id = 1"), 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM outbox WHERE topic = 'order.paid'"), kPayments - 1);
  ExpectInvariants();
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresPaymentBatching,
                         ::testing::Values(&MakePostgresCheckoutStores));

// Cancels of one product's holds arriving together are released in a few transactions (the
// product's inventory row locked once per batch), and each is answered as alone: a repeat finds
// the hold released, another member's cancel finds no hold and changes nothing.
TEST_P(PostgresPaymentBatching, ConcurrentReleasesCommitTogetherAndEachIsAnsweredAlone) {
  constexpr int kHolds = 64;
  Product(kHolds);
  const std::vector<std::int64_t> ids = ActiveHolds(kHolds);
  struct Call {
    std::int64_t hold_id;
    std::int64_t member_id;
  };
  std::vector<Call> calls;
  for (int i = 0; i < kHolds; ++i) calls.push_back({ids[i], 1000 + i});
  calls[kHolds - 1].member_id = 1;  // someone else's hold: refused, still held
  calls.push_back({ids[0], 1000});  // the same cancel twice: one releases
  asio::io_context io;
  std::vector<std::optional<Result<ReleasedUnits>>> answers(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    asio::co_spawn(io,
                   ReleaseInto(A().holds, calls[i].hold_id, calls[i].member_id, Now(), answers[i]),
                   asio::detached);
  }
  io.run();
  int released = 0;
  int not_active = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    ASSERT_TRUE(answers[i].has_value());
    const Result<ReleasedUnits>& a = *answers[i];
    if (i == static_cast<std::size_t>(kHolds - 1)) {
      ASSERT_FALSE(a.ok());
      EXPECT_EQ(a.error().code, Errc::kNotFound);
      continue;
    }
    if (a.ok()) {
      ++released;
      EXPECT_EQ(a->member_id, calls[i].member_id);
      ASSERT_EQ(a->lines.size(), 1u);
      EXPECT_EQ(a->lines[0].product_id, kProduct);
      EXPECT_EQ(a->lines[0].quantity, 1);
    } else {
      EXPECT_EQ(a.error().code, Errc::kHoldNotActive);
      EXPECT_EQ(calls[i].hold_id, ids[0]) << "only the repeated cancel finds nothing to release";
      ++not_active;
    }
  }
  EXPECT_EQ(released, kHolds - 1);
  EXPECT_EQ(not_active, 1);
  EXPECT_EQ(StatusOf(ids[kHolds - 1]), HoldStatus::kActive);
  EXPECT_EQ(Ok(Await(A().stock.Snapshot(kProduct))).available, kHolds - 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM stock_ledger WHERE kind = 'RELEASE'"), kHolds - 1);
  EXPECT_LE(SqlInt("SELECT count(DISTINCT xmin::text) FROM stock_ledger WHERE kind = 'RELEASE'"), 8)
      << "releases were not group-committed";
  const auto stats = Fixture().holds().release_batch_stats();
  EXPECT_EQ(stats.holds, calls.size());
  EXPECT_LE(stats.batches, 8u);
  ExpectInvariants();
}

TEST_P(PostgresPaymentBatching, ConcurrentBeginsCommitTogetherAndEachIsAnsweredAlone) {
  constexpr int kHolds = 64;
  Product(kHolds);
  const std::vector<std::int64_t> ids = ActiveHolds(kHolds);
  struct Call {
    std::int64_t hold_id;
    std::int64_t member_id;
    std::string key;
  };
  std::vector<Call> calls;
  for (int i = 0; i < kHolds; ++i) calls.push_back({ids[i], 1000 + i, "k" + std::to_string(i)});
  calls[kHolds - 1].member_id = 1;           // someone else's hold: refused, its key unclaimed
  calls.push_back({ids[0], 1000, "again"});  // the same hold twice: one begins
  calls.push_back({ids[1], 1001, "k1"});     // the same key twice: one claims it
  asio::io_context io;
  std::vector<std::optional<Result<Hold>>> answers(calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    IdempotencyTag tag{calls[i].key, "hash", "pay"};
    asio::co_spawn(
        io, BeginInto(A().holds, calls[i].hold_id, calls[i].member_id, tag, Now(), answers[i]),
        asio::detached);
  }
  io.run();
  int begun = 0;
  std::map<Errc, int> refused;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    ASSERT_TRUE(answers[i].has_value());
    const Result<Hold>& a = *answers[i];
    if (a.ok()) {
      ++begun;
      EXPECT_EQ(a->id, calls[i].hold_id);
      EXPECT_EQ(a->member_id, calls[i].member_id);
      EXPECT_EQ(a->status, HoldStatus::kPaying);
      ASSERT_EQ(a->lines.size(), 1u);
      EXPECT_EQ(a->lines[0].product_id, kProduct);
    } else {
      ++refused[a.error().code];
    }
  }
  EXPECT_EQ(begun, kHolds - 1);
  EXPECT_EQ(refused[Errc::kNotFound], 1);
  EXPECT_EQ(refused[Errc::kHoldNotActive] + refused[Errc::kRequestInFlight], 2);
  EXPECT_EQ(refused[Errc::kRequestInFlight], 1) << "the key twice: one claims it";
  EXPECT_EQ(StatusOf(ids[kHolds - 1]), HoldStatus::kActive);
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(1, calls[kHolds - 1].key))).has_value());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM holds WHERE status = 'PAYING'"), kHolds - 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM idempotency"), kHolds - 1)
      << "the key of every begun payment, and of no refused one";
  EXPECT_LE(SqlInt("SELECT count(DISTINCT xmin::text) FROM holds WHERE status = 'PAYING'"), 8)
      << "payments were not begun in batches";
  const auto stats = Fixture().holds().begin_batch_stats();
  EXPECT_EQ(stats.holds, calls.size());
  EXPECT_LE(stats.batches, 8u);
  ExpectInvariants();
}

}  // namespace rocketmart::checkout::contract

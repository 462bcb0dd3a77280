#include <algorithm>

#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/transaction.hpp"
#include "services/checkout/adapters/postgres/group_commit.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_internal.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

namespace asio = boost::asio;
using postgres::Connection;
using postgres::Params;
using postgres::Rows;
using postgres_internal::IntArray;
using postgres_internal::QueryOnce;
using postgres_internal::ReadHold;

namespace {

constexpr std::string_view kPlaceHold =
    "SELECT checkout_place_hold($1::bigint, $2::bigint[], $3::bigint[], $4::bigint[], "
    "$5::bigint[], $6::boolean, $7::text, $8::bigint, $9::bigint, $10::bigint, $11::text, "
    "$12::text, $13::text)";

postgres::Statement PlaceHoldStatement(const HoldRequest& r) {
  std::vector<std::int64_t> products, quantities, prices, limits;
  for (const HoldLine& line : r.lines) {
    products.push_back(line.product_id);
    quantities.push_back(line.quantity);
    prices.push_back(line.price);
    const auto limit = r.per_member_limits.find(line.product_id);
    limits.push_back(limit == r.per_member_limits.end() ? kMaxPerMemberLimit : limit->second);
  }
  Params p;
  p.Add(r.member_id)
      .Add(IntArray(products))
      .Add(IntArray(quantities))
      .Add(IntArray(prices))
      .Add(IntArray(limits))
      .Add(r.pay_now)
      .Add(r.worker)
      .Add(ToUnixMillis(r.payment_lease_until))
      .Add(ToUnixMillis(r.now))
      .Add(ToUnixMillis(r.expires_at));
  if (r.idempotency) {
    p.Add(r.idempotency->key).Add(r.idempotency->request_hash).Add(r.idempotency->operation);
  } else {
    p.AddNull().AddNull().AddNull();
  }
  return {std::string(kPlaceHold), std::move(p)};
}

// The answer of checkout_place_hold for `r`: the hold, or why it was refused.
Result<Hold> PlacedHold(const HoldRequest& r, std::int64_t answer) {
  if (answer == -1) return MakeError(Errc::kRequestInFlight, "idempotency key in use");
  if (answer == -2) return MakeError(Errc::kSoldOut, "sold out");
  if (answer == -3) {
    return MakeError(Errc::kPurchaseLimitReached, "the per-member limit of this sale is reached");
  }
  Hold hold;
  hold.id = answer;
  hold.member_id = r.member_id;
  hold.status = r.pay_now ? HoldStatus::kPaying : HoldStatus::kActive;
  hold.created_at = r.now;
  hold.expires_at = r.expires_at;
  hold.lines = r.lines;
  for (const HoldLine& line : r.lines) hold.total += line.price * line.quantity;
  return hold;
}

std::vector<ReleasedUnits> ReadReleased(const Rows& r) {
  std::vector<ReleasedUnits> out;
  std::int64_t current = 0;
  for (int i = 0; i < r.size(); ++i) {
    if (out.empty() || r.Int64(i, 0) != current) {
      current = r.Int64(i, 0);
      out.push_back({r.Int64(i, 1), {}});
    }
    out.back().lines.push_back({r.Int64(i, 2), r.Int64(i, 3), r.Int64(i, 4)});
  }
  return out;
}

// Sends one batch as one pipeline (one round trip, one implicit transaction) on a pooled
// connection. A deadlock or serialization failure aborted all of it (nothing committed): it is
// sent again, up to postgres::kAttempts times. `failed` is the answer when the send threw.
asio::awaitable<Result<std::vector<Rows>>> SendBatch(
    postgres::Pool& pool, const std::vector<postgres::Statement>& statements,
    std::string_view failed) {
  try {
    for (int attempt = 1;; ++attempt) {
      auto lease = co_await pool.Acquire();
      if (!lease.ok()) co_return std::move(lease).error();
      auto answers = co_await (*lease)->Pipeline(statements);
      if (answers.ok() || !postgres::RetryableState((*lease)->last_sqlstate()) ||
          attempt >= postgres::kAttempts) {
        co_return answers;
      }
    }
  } catch (const std::exception&) {
  }
  co_return MakeError(Errc::kUnavailable, std::string(failed));
}

// Sends `statements` as one batch (SendBatch) and answers each request of `batch` with
// `answer(request, rows)`, its rows being the statement at its index after `lead` leading ones;
// a failed batch (nothing of it committed, or its outcome unknown) answers each with the failure.
template <class Queue, class AnswerFn>
asio::awaitable<void> SendAndAnswer(postgres::Pool& pool, Queue& queue, typename Queue::Batch batch,
                                    const std::vector<postgres::Statement>& statements,
                                    std::size_t lead, std::string_view failed, AnswerFn answer) {
  auto answers = co_await SendBatch(pool, statements, failed);
  if (!answers.ok()) {
    for (auto& p : batch) queue.Finish(std::move(p), answers.error());
    co_return;
  }
  queue.Committed(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto result = answer(batch[i]->request, (*answers)[i + lead]);
    queue.Finish(std::move(batch[i]), std::move(result));
  }
}

}  // namespace

// ---- placing holds: queued, then pipelined in batches ----------------------------------------

PostgresHoldStore::PostgresHoldStore(postgres::Pool& pool, HoldBatching batching)
    : pool_(pool),
      hold_queue_(std::make_unique<HoldQueue>(
          batching.max_batch, batching.max_batches,
          [this](HoldQueue::Batch batch) { return RunHoldBatch(std::move(batch)); })),
      payment_queue_(std::make_unique<PaymentQueue>(
          batching.max_payment_batch, batching.max_payment_batches,
          [this](PaymentQueue::Batch batch) { return RunPaymentBatch(std::move(batch)); })),
      release_queue_(std::make_unique<ReleaseQueue>(
          batching.max_release_batch, batching.max_release_batches,
          [this](ReleaseQueue::Batch batch) { return RunReleaseBatch(std::move(batch)); })),
      begin_queue_(std::make_unique<BeginQueue>(
          batching.max_begin_batch, batching.max_begin_batches,
          [this](BeginQueue::Batch batch) { return RunBeginBatch(std::move(batch)); })) {}

PostgresHoldStore::~PostgresHoldStore() = default;

PostgresHoldStore::BatchStats PostgresHoldStore::batch_stats() const {
  const auto stats = hold_queue_->stats();
  return {stats.items, stats.batches};
}

PostgresHoldStore::BatchStats PostgresHoldStore::payment_batch_stats() const {
  const auto stats = payment_queue_->stats();
  return {stats.items, stats.batches};
}

PostgresHoldStore::BatchStats PostgresHoldStore::release_batch_stats() const {
  const auto stats = release_queue_->stats();
  return {stats.items, stats.batches};
}

PostgresHoldStore::BatchStats PostgresHoldStore::begin_batch_stats() const {
  const auto stats = begin_queue_->stats();
  return {stats.items, stats.batches};
}

asio::awaitable<Result<Hold>> PostgresHoldStore::PlaceHold(HoldRequest request) {
  co_return co_await hold_queue_->Submit(std::move(request));
}

asio::awaitable<void> PostgresHoldStore::RunHoldBatch(HoldQueue::Batch batch) {
  // A hold whose buyer stopped waiting is not placed (its units stay sellable).
  const auto started = std::chrono::steady_clock::now();
  HoldQueue::Batch sent;
  std::vector<postgres::Statement> statements;
  for (auto& p : batch) {
    if (p->request.start_by != kNoDeadline && started > p->request.start_by) {
      hold_queue_->Finish(
          std::move(p),
          MakeError(Errc::kTimeout,
                    "the purchase waited too long to start; nothing was done, retry"));
      continue;
    }
    statements.push_back(PlaceHoldStatement(p->request));
    sent.push_back(std::move(p));
  }
  if (sent.empty()) co_return;
  // One round trip, one implicit transaction: every hold of the batch commits together.
  auto placed = [](const HoldRequest& r, const Rows& rows) {
    return PlacedHold(r, rows.Int64(0, 0));
  };
  co_await SendAndAnswer(pool_, *hold_queue_, std::move(sent), statements, 0,
                         "the hold could not be placed, retry", placed);
}

// ---- completing payments: queued, then committed in batches ---------------------------------

asio::awaitable<Result<PaidOrder>> PostgresHoldStore::CompletePayment(std::int64_t hold_id,
                                                                      ChargeRecord charge,
                                                                      TimePoint now) {
  PaymentRequest request{hold_id, std::move(charge), now};
  co_return co_await payment_queue_->Submit(std::move(request));
}

asio::awaitable<void> PostgresHoldStore::RunPaymentBatch(PaymentQueue::Batch batch) {
  // Holds are locked in id order, so two batches (or a batch and a resolver) over the same holds
  // do not deadlock on them.
  std::stable_sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) {
    return a->request.hold_id < b->request.hold_id;
  });
  std::vector<PaymentRequest> requests;
  requests.reserve(batch.size());
  for (const auto& p : batch) requests.push_back(p->request);
  std::optional<Error> failure;
  try {
    auto answers = co_await CompletePayments(std::move(requests));
    if (answers.ok()) {
      payment_queue_->Committed(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        payment_queue_->Finish(std::move(batch[i]), std::move((*answers)[i]));
      }
      co_return;
    }
    failure = std::move(answers).error();
  } catch (const std::exception&) {
    failure = MakeError(Errc::kUnavailable, "the payment could not be recorded, retry");
  }
  if (batch.size() > 1 && !postgres::IsTransient(*failure)) {
    // A statement failed that the batch does not expect (nothing of it committed): each payment
    // alone, so only the faulty one fails.
    for (auto& p : batch) {
      PaymentQueue::Batch one{std::move(p)};
      co_await RunPaymentBatch(std::move(one));
    }
    co_return;
  }
  // Nothing committed, or the outcome is unknown (the connection was lost): the holds stay
  // PAYING or are PAID; a retry or the stale-payment resolver settles them (idempotently).
  for (auto& p : batch) payment_queue_->Finish(std::move(p), *failure);
}

namespace {

// The answer of checkout_complete_payment's rows for one payment (and, for a payment made now,
// its order.paid).
struct Completed {
  Result<PaidOrder> answer = MakeError(Errc::kInternal, "no answer");
  std::optional<api::OrderPaid> event;
};

Completed ReadCompleted(const Rows& r, std::int64_t hold_id) {
  Completed out;
  const std::int64_t answer = r.Int64(0, 0);
  if (answer == -1) {
    out.answer = MakeError(Errc::kNotFound, "no such hold");
    return out;
  }
  if (answer == -2) {
    out.answer = MakeError(Errc::kHoldNotActive, "the hold is not awaiting payment");
    return out;
  }
  PaidOrder order;
  order.payment_id = order.order_id = r.Int64(0, 1);
  order.hold_id = hold_id;
  order.total = r.Int64(0, 3);
  order.paid_at = FromUnixMillis(r.Int64(0, 4));
  for (int i = 0; i < r.size(); ++i) {
    if (r.IsNull(i, 5)) continue;
    order.lines.push_back({r.Int64(i, 5), r.Int64(i, 6), r.Int64(i, 7)});
  }
  if (answer == 0) {
    api::OrderPaid paid{order.payment_id, order.payment_id, hold_id, r.Int64(0, 2), order.total, {},
                        order.paid_at};
    for (int i = 0; i < r.size(); ++i) {
      if (r.IsNull(i, 5)) continue;
      paid.lines.push_back(
          {r.Int64(i, 5), r.Int64(i, 6), r.Int64(i, 7), std::string(r.Text(i, 8))});
    }
    out.event = std::move(paid);
  }
  out.answer = std::move(order);
  return out;
}

}  // namespace

asio::awaitable<Result<std::vector<Result<PaidOrder>>>> PostgresHoldStore::CompletePayments(
    std::vector<PaymentRequest> batch) {
  static const std::string kBegin = "BEGIN";
  static const std::string kComplete =
      "SELECT * FROM checkout_complete_payment($1::bigint, $2::bigint, $3::text)";
  static const std::string kSell = "SELECT checkout_sell_held($1::bigint[], $2::bigint[])";
  static const std::string kCommit = "COMMIT";
  std::vector<postgres::Statement> first;
  first.reserve(batch.size() + 1);
  first.push_back({kBegin, {}});
  for (const PaymentRequest& r : batch) {
    Params p;
    p.Add(r.hold_id).Add(ToUnixMillis(r.now)).Add(r.charge.reference);
    first.push_back({kComplete, std::move(p)});
  }
  for (int attempt = 1;; ++attempt) {
    auto lease = co_await pool_.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    Connection& c = **lease;
    // Round trip 1, inside the transaction: each hold locked and settled, or refused.
    auto settled = co_await c.Pipeline(first);
    std::optional<Error> error;
    if (!settled.ok()) {
      error = std::move(settled).error();
    } else {
      // Round trip 2: order.paid, the units sold (one UPDATE per product, summed), COMMIT.
      std::vector<std::int64_t> products, quantities;
      std::vector<postgres::Statement> second;
      std::vector<Result<PaidOrder>> answers;
      answers.reserve(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        Completed done = ReadCompleted((*settled)[i + 1], batch[i].hold_id);
        if (done.event) {
          for (const api::OrderPaidLine& line : done.event->lines) {
            products.push_back(line.product_id);
            quantities.push_back(line.quantity);
          }
          second.push_back(events::postgres_outbox::AppendStatement(
              api::kOrderPaid, api::Encode(*done.event), done.event->paid_at));
        }
        answers.push_back(std::move(done.answer));
      }
      // The hot inventory rows last: locked only for the COMMIT that follows.
      Params sell;
      sell.Add(IntArray(products)).Add(IntArray(quantities));
      second.push_back({kSell, std::move(sell)});
      second.push_back({kCommit, {}});
      auto committed = co_await c.Pipeline(second);
      if (committed.ok()) co_return answers;
      error = std::move(committed).error();
    }
    const std::string state = c.last_sqlstate();
    if (!c.broken() && PQtransactionStatus(c.raw()) != PQTRANS_IDLE) {
      // A failed ROLLBACK leaves the connection inside a transaction: the pool then drops it.
      auto rolled_back = co_await c.Execute("ROLLBACK");
      (void)rolled_back;
    }
    // A deadlock or serialization failure aborted the whole batch (nothing committed): again.
    if (postgres::RetryableState(state) && attempt < postgres::kAttempts) continue;
    co_return std::move(*error);
  }
}

// ---- transitions -----------------------------------------------------------------------------

asio::awaitable<Result<Hold>> PostgresHoldStore::BeginPayment(
    std::int64_t hold_id, std::int64_t member_id, TimePoint now,
    std::optional<IdempotencyTag> idempotency, std::string worker, TimePoint lease_until) {
  BeginRequest request{hold_id,           member_id,  now, std::move(idempotency),
                       std::move(worker), lease_until};
  co_return co_await begin_queue_->Submit(std::move(request));
}

namespace {

// The answer of checkout_begin_payment's rows for `r`: the hold, now PAYING, or why not.
Result<Hold> BegunHold(std::int64_t hold_id, std::int64_t member_id, const Rows& r) {
  switch (r.Int64(0, 0)) {
    case 0:
      break;
    case -1:
      return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    case -2:
      return MakeError(Errc::kNotFound, "no such hold");
    case -3:
      return MakeError(Errc::kHoldExpired, "the hold expired; nothing was charged");
    default:
      return MakeError(Errc::kHoldNotActive, "the hold is already paid or released");
  }
  Hold hold;
  hold.id = hold_id;
  hold.member_id = member_id;
  hold.status = HoldStatus::kPaying;
  hold.total = r.Int64(0, 1);
  hold.created_at = FromUnixMillis(r.Int64(0, 2));
  hold.expires_at = FromUnixMillis(r.Int64(0, 3));
  for (int i = 0; i < r.size(); ++i) {
    if (r.IsNull(i, 4)) continue;
    hold.lines.push_back({r.Int64(i, 4), r.Int64(i, 5), r.Int64(i, 6)});
  }
  return hold;
}

}  // namespace

asio::awaitable<void> PostgresHoldStore::RunBeginBatch(BeginQueue::Batch batch) {
  // Holds are locked in id order, as a batch of payments locks them (no deadlock between them).
  static const std::string begin =
      "SELECT * FROM checkout_begin_payment($1::bigint, $2::bigint, $3::bigint, $4::text, "
      "$5::text, $6::text, $7::text, $8::bigint)";
  std::stable_sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) {
    return a->request.hold_id < b->request.hold_id;
  });
  std::vector<postgres::Statement> statements;
  statements.reserve(batch.size());
  for (const auto& p : batch) {
    const BeginRequest& r = p->request;
    Params params;
    params.Add(r.hold_id).Add(r.member_id).Add(ToUnixMillis(r.now));
    if (r.idempotency) {
      params.Add(r.idempotency->key).Add(r.idempotency->request_hash).Add(r.idempotency->operation);
    } else {
      params.AddNull().AddNull().AddNull();
    }
    params.Add(r.worker).Add(ToUnixMillis(r.lease_until));
    statements.push_back({begin, std::move(params)});
  }
  // One round trip, one implicit transaction: every payment of the batch begins together.
  auto begun = [](const BeginRequest& r, const Rows& rows) {
    return BegunHold(r.hold_id, r.member_id, rows);
  };
  co_await SendAndAnswer(pool_, *begin_queue_, std::move(batch), statements, 0,
                         "the payment could not be begun, retry", begun);
}

asio::awaitable<Result<ReleasedUnits>> PostgresHoldStore::ReleaseHold(std::int64_t hold_id,
                                                                      std::int64_t member_id,
                                                                      HoldStatus from,
                                                                      ReleaseReason reason,
                                                                      TimePoint now) {
  for (int attempt = 1;; ++attempt) {
    ReleaseRequest request{hold_id, member_id, from, reason, now};
    auto released = co_await release_queue_->Submit(std::move(request));
    if (!released.ok()) co_return std::move(released).error();
    if (*released) co_return std::move(**released);
    // Nothing released: why (outside the batch's transaction, which has committed).
    auto lease = co_await pool_.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    auto read = co_await ReadHold(**lease, hold_id, false);
    if (!read.ok()) co_return std::move(read).error();
    if (!*read || (member_id != 0 && (*read)->hold.member_id != member_id)) {
      co_return MakeError(Errc::kNotFound, "no such hold");
    }
    const HoldStatus status = (*read)->hold.status;
    if (status == from && attempt < postgres::kAttempts) continue;  // moved back meanwhile
    if (status == HoldStatus::kExpired) {
      co_return MakeError(Errc::kHoldExpired, "the hold already expired");
    }
    co_return MakeError(Errc::kHoldNotActive, "the hold is already paid or released");
  }
}

asio::awaitable<void> PostgresHoldStore::RunReleaseBatch(ReleaseQueue::Batch batch) {
  // One call per hold, its own guards (id, status, member) re-checked on the row's latest
  // version (FOR UPDATE), every row reached by its key (migration 4).
  static const std::string release =
      "SELECT * FROM checkout_release_hold($1::bigint, $2::text, $3::text, $4::text, $5::bigint, "
      "$6::bigint)";
  static const std::string lock_holds =
      "SELECT id FROM holds WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE";
  std::vector<std::int64_t> ids;
  ids.reserve(batch.size());
  for (const auto& p : batch) ids.push_back(p->request.hold_id);
  std::vector<postgres::Statement> statements;
  statements.reserve(batch.size() + 1);
  Params locked;
  locked.Add(IntArray(ids));
  statements.push_back({lock_holds, std::move(locked)});
  for (const auto& p : batch) {
    const ReleaseRequest& r = p->request;
    Params params;
    params.Add(r.hold_id)
        .Add(HoldStatusName(r.from))
        .Add(HoldStatusName(HoldStatus::kReleased))
        .Add(ReleaseReasonName(r.reason))
        .Add(ToUnixMillis(r.now))
        .Add(r.member_id);
    statements.push_back({release, std::move(params)});
  }
  // One round trip, one implicit transaction: every release of the batch commits together.
  auto released = [](const ReleaseRequest&,
                     const Rows& rows) -> Result<std::optional<ReleasedUnits>> {
    std::vector<ReleasedUnits> units = ReadReleased(rows);
    std::optional<ReleasedUnits> answer;
    if (!units.empty()) answer = std::move(units.front());
    return answer;
  };
  co_await SendAndAnswer(pool_, *release_queue_, std::move(batch), statements, 1,
                         "the hold could not be released, retry", released);
}

asio::awaitable<Result<std::vector<ReleasedUnits>>> PostgresHoldStore::ExpireDue(
    TimePoint now, std::size_t limit) {
  auto work = [now, limit](Connection& c) -> asio::awaitable<Result<std::vector<ReleasedUnits>>> {
    // One statement: the due holds are chosen and locked (SKIP LOCKED: a hold another sweeper,
    // a payment or a cancel holds is left to it), then each released by checkout_release_hold
    // (migration 4: every row reached by its key; the set-based statement this replaces was
    // planned as full scans of member_units and inventory, which grow with a drop's buyers).
    static const std::string sql =
        "SELECT r.o_hold, r.o_member, r.o_product, r.o_quantity, r.o_price FROM ("
        "SELECT id FROM holds WHERE status = 'ACTIVE' AND expires_at_ms <= $1 "
        "ORDER BY expires_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED) due "
        "CROSS JOIN LATERAL checkout_release_hold(due.id, 'ACTIVE', $3, $4, $5, 0) r "
        "ORDER BY r.o_hold, r.o_product";
    Params p;
    p.Add(ToUnixMillis(now))
        .Add(static_cast<std::int64_t>(limit))
        .Add(HoldStatusName(HoldStatus::kExpired))
        .Add(ReleaseReasonName(ReleaseReason::kExpired))
        .Add(ToUnixMillis(now));
    auto released = co_await c.Query(sql, std::move(p));
    if (!released.ok()) co_return std::move(released).error();
    co_return ReadReleased(*released);
  };
  co_return co_await postgres::Transact<std::vector<ReleasedUnits>>(pool_, std::move(work));
}

asio::awaitable<Result<std::vector<std::int64_t>>> PostgresHoldStore::ClaimStalePayments(
    std::string worker, TimePoint now, TimePoint lease_until, bool include_own, std::size_t limit) {
  // One statement: the holds are chosen, locked (SKIP LOCKED: one another resolver is leasing is
  // left to it) and leased; the guard is re-checked on each row's latest version.
  Params p;
  p.Add(worker)
      .Add(ToUnixMillis(lease_until))
      .Add(ToUnixMillis(now))
      .Add(include_own)
      .Add(static_cast<std::int64_t>(limit));
  auto rows = co_await QueryOnce(
      pool_,
      "UPDATE holds SET payer = $1, payment_lease_until_ms = $2 WHERE id IN ("
      "  SELECT id FROM holds WHERE status = 'PAYING' AND (payment_lease_until_ms IS NULL"
      "    OR payment_lease_until_ms <= $3 OR ($4::boolean AND payer = $1))"
      "  ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) "
      "RETURNING id",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < rows->size(); ++i) ids.push_back(rows->Int64(i, 0));
  std::sort(ids.begin(), ids.end());
  co_return ids;
}

// ---- reads -----------------------------------------------------------------------------------

asio::awaitable<Result<std::optional<HoldOutcome>>> PostgresHoldStore::FindHold(
    std::int64_t hold_id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  co_return co_await ReadHold(**lease, hold_id, false);
}

asio::awaitable<Result<std::optional<PaidPurchase>>> PostgresHoldStore::FindPaidPurchase(
    std::int64_t payment_id) {
  Params p;
  p.Add(payment_id);
  auto rows = co_await QueryOnce(
      pool_,
      "SELECT p.member_id, p.amount, p.created_at_ms, l.product_id, l.quantity, l.price, "
      "COALESCE(i.name, '') FROM payments p JOIN hold_lines l ON l.hold_id = p.hold_id "
      "LEFT JOIN inventory i ON i.product_id = l.product_id WHERE p.id = $1 "
      "ORDER BY l.product_id",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<PaidPurchase> out;
  if (rows->empty()) co_return out;
  const Rows& r = *rows;
  out = PaidPurchase{payment_id, r.Int64(0, 0), r.Int64(0, 1), FromUnixMillis(r.Int64(0, 2)), {}};
  for (int i = 0; i < r.size(); ++i) {
    out->lines.push_back(
        {{r.Int64(i, 3), r.Int64(i, 4), r.Int64(i, 5)}, std::string(r.Text(i, 6))});
  }
  co_return out;
}

asio::awaitable<Result<OpenHoldsPage>> PostgresHoldStore::OpenHolds(std::int64_t member_id,
                                                                    TimePoint now,
                                                                    std::int64_t before_id,
                                                                    std::size_t limit) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Connection& c = **lease;
  Params p;
  p.Add(member_id).Add(ToUnixMillis(now));
  // The member's open holds are few (a hold is open for minutes): all ids and their count in one
  // read, then the page's holds.
  auto ids = co_await c.Query(
      "SELECT id, count(*) OVER () FROM holds WHERE member_id = $1 AND ((status = 'ACTIVE' AND "
      "expires_at_ms > $2) OR status = 'PAYING') ORDER BY id DESC",
      std::move(p));
  if (!ids.ok()) co_return std::move(ids).error();
  OpenHoldsPage page;
  const std::int64_t below = before_id > 0 ? before_id : INT64_MAX;
  for (int i = 0; i < ids->size(); ++i) {
    page.total = ids->Int64(i, 1);
    const std::int64_t id = ids->Int64(i, 0);
    if (id >= below || page.items.size() >= limit) continue;
    auto outcome = co_await ReadHold(c, id, false);
    if (!outcome.ok()) co_return std::move(outcome).error();
    if (*outcome) page.items.push_back(std::move((*outcome)->hold));
  }
  co_return page;
}

}  // namespace rocketmart::checkout

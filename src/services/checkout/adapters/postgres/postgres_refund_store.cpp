#include <algorithm>

#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/transaction.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_internal.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

namespace asio = boost::asio;
using postgres::Connection;
using postgres::Params;
using postgres::Rows;
using postgres_internal::LoadLines;
using postgres_internal::QueryAtStartUp;
using postgres_internal::QueryOnce;

asio::awaitable<Result<std::optional<RefundedPayment>>> PostgresRefundStore::RefundPayment(
    std::int64_t payment_id, std::string consumer, std::string event_id, std::string worker,
    TimePoint lease_until, TimePoint now) {
  auto work = [payment_id, consumer = std::move(consumer), event_id = std::move(event_id),
               worker = std::move(worker), lease_until,
               now](Connection& c) -> asio::awaitable<Result<std::optional<RefundedPayment>>> {
    auto claimed = co_await events::postgres_outbox::ClaimEvent(c, consumer, event_id, now);
    if (!claimed.ok()) co_return std::move(claimed).error();
    if (!*claimed) co_return std::optional<RefundedPayment>{};
    // The guard makes a second event about the same payment (a replayed or duplicated one)
    // change nothing; racing on two instances, the second waits for the first's row lock and
    // then finds it REFUNDED.
    Params p;
    p.Add(ToUnixMillis(now)).Add(worker).Add(ToUnixMillis(lease_until)).Add(payment_id);
    auto marked = co_await c.Query(
        "UPDATE payments SET status = 'REFUNDED', refund_pending = true, refunded_at_ms = $1, "
        "refund_worker = $2, refund_lease_until_ms = $3 WHERE id = $4 AND status = 'CAPTURED' "
        "RETURNING hold_id, member_id, amount",
        std::move(p));
    if (!marked.ok()) co_return std::move(marked).error();
    if (marked->empty()) co_return std::optional<RefundedPayment>{};
    RefundedPayment r{
        payment_id, marked->Int64(0, 0), marked->Int64(0, 1), marked->Int64(0, 2), {}};
    Params q;
    q.Add(r.hold_id).Add(r.member_id).Add(ToUnixMillis(now));
    auto lines = co_await c.Query(
        // The lock order of every transaction on these rows (checkout_place_hold's): the
        // inventory rows in product order (the init plan over `locked`, evaluated before `l`
        // yields a row, so before either UPDATE), then the member's units.
        "WITH locked AS MATERIALIZED (SELECT i.product_id FROM inventory i WHERE i.product_id IN "
        "(SELECT product_id FROM hold_lines WHERE hold_id = $1) ORDER BY i.product_id "
        "FOR UPDATE OF i), "
        "l AS (SELECT product_id, quantity, price FROM hold_lines WHERE hold_id = $1 "
        "AND (SELECT count(*) FROM locked) >= 0), "
        "inv AS (UPDATE inventory i SET sold = i.sold - l.quantity, "
        "available = i.available + l.quantity, refunded = i.refunded + l.quantity FROM l "
        "WHERE i.product_id = l.product_id), "
        "units AS (UPDATE member_units u SET units = GREATEST(u.units - l.quantity, 0) FROM l "
        "WHERE u.product_id = l.product_id AND u.member_id = $2), "
        "ledger AS (INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms) "
        "SELECT product_id, 'RETURN', quantity, $1, $3 FROM l) "
        "SELECT product_id, quantity, price FROM l ORDER BY product_id",
        std::move(q));
    if (!lines.ok()) co_return std::move(lines).error();
    for (int i = 0; i < lines->size(); ++i) {
      r.lines.push_back({lines->Int64(i, 0), lines->Int64(i, 1), lines->Int64(i, 2)});
    }
    co_return std::optional<RefundedPayment>{std::move(r)};
  };
  co_return co_await postgres::Transact<std::optional<RefundedPayment>>(pool_, std::move(work));
}

asio::awaitable<Result<std::vector<RefundedPayment>>> PostgresRefundStore::ClaimPendingRefunds(
    std::string worker, TimePoint now, TimePoint lease_until, std::size_t limit) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Connection& c = **lease;
  // One statement: chosen, locked (SKIP LOCKED: one another worker is leasing is left to it) and
  // leased, the guard re-checked on each row's latest version.
  Params p;
  p.Add(worker)
      .Add(ToUnixMillis(lease_until))
      .Add(ToUnixMillis(now))
      .Add(static_cast<std::int64_t>(limit));
  auto rows = co_await c.Query(
      "UPDATE payments SET refund_worker = $1, refund_lease_until_ms = $2 WHERE id IN ("
      "  SELECT id FROM payments WHERE refund_pending AND (refund_lease_until_ms IS NULL"
      "    OR refund_lease_until_ms <= $3) ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) "
      "RETURNING id, hold_id, member_id, amount",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<RefundedPayment> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back({rows->Int64(i, 0), rows->Int64(i, 1), rows->Int64(i, 2), rows->Int64(i, 3), {}});
  }
  std::sort(out.begin(), out.end(), [](const RefundedPayment& a, const RefundedPayment& b) {
    return a.payment_id < b.payment_id;
  });
  for (RefundedPayment& r : out) {
    auto lines = co_await LoadLines(c, r.hold_id);
    if (!lines.ok()) co_return std::move(lines).error();
    r.lines = std::move(*lines);
  }
  co_return out;
}

asio::awaitable<Status> PostgresRefundStore::ReleaseRefund(std::int64_t payment_id,
                                                           std::string worker) {
  Params p;
  p.Add(payment_id).Add(worker);
  auto rows = co_await QueryOnce(pool_,
                                 "UPDATE payments SET refund_lease_until_ms = NULL "
                                 "WHERE id = $1 AND refund_pending AND refund_worker = $2",
                                 std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return Ok();
}

asio::awaitable<Result<bool>> PostgresRefundStore::SettleRefund(std::int64_t payment_id,
                                                                TimePoint now) {
  auto work = [payment_id, now](Connection& c) -> asio::awaitable<Result<bool>> {
    // Guarded: the refund settles once, with one payment.refunded event for the orders service.
    Params p;
    p.Add(payment_id);
    auto rows = co_await c.Query(
        "UPDATE payments SET refund_pending = false, refund_lease_until_ms = NULL "
        "WHERE id = $1 AND refund_pending RETURNING member_id, amount",
        std::move(p));
    if (!rows.ok()) co_return std::move(rows).error();
    if (rows->empty()) co_return false;
    const api::PaymentRefunded refunded{payment_id, payment_id, rows->Int64(0, 0),
                                        rows->Int64(0, 1), now};
    const std::string payload = api::Encode(refunded);
    auto appended =
        co_await events::postgres_outbox::Append(c, api::kPaymentRefunded, payload, now);
    if (!appended.ok()) co_return std::move(appended).error();
    co_return true;
  };
  co_return co_await postgres::Transact<bool>(pool_, std::move(work));
}

// ---- idempotency records ---------------------------------------------------------------------

void PostgresIdempotencyStore::LoadKeys(
    const std::function<void(std::int64_t, std::string_view)>& visit) {
  const Rows rows =
      QueryAtStartUp(pool_, "SELECT member_id, key FROM idempotency", "loading idempotency keys");
  for (int i = 0; i < rows.size(); ++i) visit(rows.Int64(i, 0), rows.Text(i, 1));
}

asio::awaitable<Result<std::optional<IdempotencyEntry>>> PostgresIdempotencyStore::Find(
    std::int64_t member_id, std::string key) {
  Params p;
  p.Add(member_id).Add(key);
  auto rows = co_await QueryOnce(
      pool_,
      "SELECT request_hash, operation, hold_id FROM idempotency WHERE member_id = $1 AND key = $2",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<IdempotencyEntry> out;
  if (!rows->empty()) {
    out = IdempotencyEntry{std::string(rows->Text(0, 0)), std::string(rows->Text(0, 1)),
                           rows->Int64(0, 2)};
  }
  co_return out;
}

asio::awaitable<Result<std::vector<IdempotencyKeyRef>>> PostgresIdempotencyStore::Forget(
    TimePoint created_before, std::size_t limit) {
  Params p;
  p.Add(ToUnixMillis(created_before)).Add(static_cast<std::int64_t>(limit));
  auto rows = co_await QueryOnce(
      pool_,
      "DELETE FROM idempotency d USING ("
      "  SELECT i.member_id, i.key FROM idempotency i JOIN holds h ON h.id = i.hold_id"
      "  WHERE i.created_at_ms < $1 AND h.status NOT IN ('ACTIVE', 'PAYING')"
      "  ORDER BY i.created_at_ms LIMIT $2 FOR UPDATE OF i SKIP LOCKED) old "
      "WHERE d.member_id = old.member_id AND d.key = old.key "
      "RETURNING d.member_id, d.key, d.created_at_ms",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<std::pair<std::int64_t, IdempotencyKeyRef>> aged;
  for (int i = 0; i < rows->size(); ++i) {
    aged.push_back({rows->Int64(i, 2), {rows->Int64(i, 0), std::string(rows->Text(i, 1))}});
  }
  std::stable_sort(aged.begin(), aged.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<IdempotencyKeyRef> forgotten;
  for (auto& a : aged) forgotten.push_back(std::move(a.second));
  co_return forgotten;
}

}  // namespace rocketmart::checkout

#include <algorithm>

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

using sqlite_internal::Ledger;
using sqlite_internal::LoadLines;
using storage::Database;

boost::asio::awaitable<Result<std::optional<RefundedPayment>>> SqliteRefundStore::RefundPayment(
    std::int64_t payment_id, std::string consumer, std::string event_id, std::string worker,
    TimePoint lease_until, TimePoint now) {
  auto job = [payment_id, consumer = std::move(consumer), event_id = std::move(event_id),
              worker = std::move(worker), lease_until,
              now](Database& db) -> Result<std::optional<RefundedPayment>> {
    if (!events::sqlite_outbox::ClaimEvent(db, consumer, event_id, now)) {
      return std::optional<RefundedPayment>{};
    }
    // The guard makes a second event about the same payment (cancel and return cannot both
    // happen, but a replayed or duplicated event can) change nothing.
    auto& mark = db.Cached(
        "UPDATE payments SET status = 'REFUNDED', refund_pending = 1, refunded_at_ms = ?, "
        "refund_worker = ?, refund_lease_until_ms = ? WHERE id = ? AND status = 'CAPTURED' "
        "RETURNING hold_id, member_id, amount");
    mark.BindInt64(1, ToUnixMillis(now))
        .BindText(2, worker)
        .BindInt64(3, ToUnixMillis(lease_until))
        .BindInt64(4, payment_id);
    if (!mark.Step()) {
      mark.Reset();
      return std::optional<RefundedPayment>{};
    }
    RefundedPayment r{payment_id, mark.Int64(0), mark.Int64(1), mark.Int64(2), {}};
    mark.Reset();
    r.lines = LoadLines(db, r.hold_id);
    for (const HoldLine& line : r.lines) {
      auto& inv = db.Cached(
          "UPDATE inventory SET sold = sold - ?1, available = available + ?1, "
          "refunded = refunded + ?1 WHERE product_id = ?2");
      inv.BindInt64(1, line.quantity).BindInt64(2, line.product_id);
      inv.Step();
      inv.Reset();
      auto& units = db.Cached(
          "UPDATE member_units SET units = MAX(units - ?, 0) WHERE product_id = ? AND member_id = "
          "?");
      units.BindInt64(1, line.quantity).BindInt64(2, line.product_id).BindInt64(3, r.member_id);
      units.Step();
      units.Reset();
      Ledger(db, line.product_id, "RETURN", line.quantity, r.hold_id, now);
    }
    return std::optional<RefundedPayment>{std::move(r)};
  };
  co_return co_await async::Write<std::optional<RefundedPayment>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::vector<RefundedPayment>>> SqliteRefundStore::ClaimPendingRefunds(
    std::string worker, TimePoint now, TimePoint lease_until, std::size_t limit) {
  auto job = [worker = std::move(worker), now, lease_until,
              limit](Database& db) -> Result<std::vector<RefundedPayment>> {
    auto& s = db.Cached(
        "UPDATE payments SET refund_worker = ?1, refund_lease_until_ms = ?2 WHERE id IN ("
        "  SELECT id FROM payments WHERE refund_pending = 1 AND (refund_lease_until_ms IS NULL"
        "    OR refund_lease_until_ms <= ?3) ORDER BY id LIMIT ?4) "
        "RETURNING id, hold_id, member_id, amount");
    s.BindText(1, worker)
        .BindInt64(2, ToUnixMillis(lease_until))
        .BindInt64(3, ToUnixMillis(now))
        .BindInt64(4, static_cast<std::int64_t>(limit));
    std::vector<RefundedPayment> out;
    while (s.Step()) out.push_back({s.Int64(0), s.Int64(1), s.Int64(2), s.Int64(3), {}});
    s.Reset();
    std::sort(out.begin(), out.end(), [](const RefundedPayment& a, const RefundedPayment& b) {
      return a.payment_id < b.payment_id;
    });
    for (RefundedPayment& r : out) r.lines = LoadLines(db, r.hold_id);
    return out;
  };
  co_return co_await async::Write<std::vector<RefundedPayment>>(writer_, std::move(job));
}

boost::asio::awaitable<Status> SqliteRefundStore::ReleaseRefund(std::int64_t payment_id,
                                                                std::string worker) {
  auto job = [payment_id, worker = std::move(worker)](Database& db) -> Result<bool> {
    auto& s = db.Cached(
        "UPDATE payments SET refund_lease_until_ms = NULL "
        "WHERE id = ? AND refund_pending = 1 AND refund_worker = ?");
    s.BindInt64(1, payment_id).BindText(2, worker);
    s.Step();
    s.Reset();
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

boost::asio::awaitable<Result<bool>> SqliteRefundStore::SettleRefund(std::int64_t payment_id,
                                                                     TimePoint now) {
  auto job = [payment_id, now](Database& db) -> Result<bool> {
    // Guarded: the refund settles once, with one payment.refunded event for the orders service.
    auto& s = db.Cached(
        "UPDATE payments SET refund_pending = 0, refund_lease_until_ms = NULL "
        "WHERE id = ? AND refund_pending = 1 RETURNING member_id, amount");
    s.BindInt64(1, payment_id);
    if (!s.Step()) {
      s.Reset();
      return false;
    }
    const api::PaymentRefunded refunded{payment_id, payment_id, s.Int64(0), s.Int64(1), now};
    s.Reset();
    events::sqlite_outbox::Append(db, api::kPaymentRefunded, api::Encode(refunded), now);
    return true;
  };
  co_return co_await async::Write<bool>(writer_, std::move(job));
}

}  // namespace rocketmart::checkout

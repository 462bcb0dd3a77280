#include <algorithm>

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

using sqlite_internal::Ledger;
using sqlite_internal::ReadHold;
using sqlite_internal::ReleaseInTransaction;
using storage::Database;

namespace {

// The idempotency record, claimed in the transaction of the request's first effect: false when
// another request holds the key already (then this transaction must not happen).
bool ClaimIdempotencyKey(Database& db, std::int64_t member_id, const IdempotencyTag& tag,
                         std::int64_t hold_id, TimePoint now) {
  auto& idem = db.Cached(
      "INSERT OR IGNORE INTO idempotency (member_id, key, request_hash, operation, hold_id, "
      "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)");
  idem.BindInt64(1, member_id)
      .BindText(2, tag.key)
      .BindText(3, tag.request_hash)
      .BindText(4, tag.operation)
      .BindInt64(5, hold_id)
      .BindInt64(6, ToUnixMillis(now));
  idem.Step();
  idem.Reset();
  return db.Changes() > 0;
}

// Whether the member's key has a record already: looked at first, so a retry (on any instance,
// whatever its admission knew) is answered from the record, never with a refusal the first
// request's own effect caused (its units, its hold's status).
bool KeyClaimed(Database& db, std::int64_t member_id, const std::optional<IdempotencyTag>& tag) {
  if (!tag) return false;
  auto& find = db.Cached("SELECT 1 FROM idempotency WHERE member_id = ? AND key = ?");
  find.BindInt64(1, member_id).BindText(2, tag->key);
  const bool found = find.Step();
  find.Reset();
  return found;
}

}  // namespace

boost::asio::awaitable<Result<Hold>> SqliteHoldStore::PlaceHold(HoldRequest request) {
  auto job = [request = std::move(request)](Database& db) -> Result<Hold> {
    if (request.start_by != kNoDeadline && std::chrono::steady_clock::now() > request.start_by) {
      return MakeError(Errc::kTimeout,
                       "the purchase waited too long to start; nothing was done, retry");
    }
    if (KeyClaimed(db, request.member_id, request.idempotency)) {
      return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    Hold hold;
    hold.member_id = request.member_id;
    hold.status = request.pay_now ? HoldStatus::kPaying : HoldStatus::kActive;
    hold.created_at = request.now;
    hold.expires_at = request.expires_at;
    for (const HoldLine& line : request.lines) {
      // The truth about stock: this UPDATE cannot take more than is available.
      auto& take = db.Cached(
          "UPDATE inventory SET available = available - ?, held = held + ? "
          "WHERE product_id = ? AND available >= ? AND retired = 0");
      take.BindInt64(1, line.quantity)
          .BindInt64(2, line.quantity)
          .BindInt64(3, line.product_id)
          .BindInt64(4, line.quantity);
      take.Step();
      take.Reset();
      if (db.Changes() == 0) return MakeError(Errc::kSoldOut, "sold out");
      const auto limit_it = request.per_member_limits.find(line.product_id);
      const std::int64_t limit =
          limit_it == request.per_member_limits.end() ? kMaxPerMemberLimit : limit_it->second;
      auto& units = db.Cached(
          "INSERT INTO member_units (product_id, member_id, units) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (product_id, member_id) DO UPDATE SET units = units + ?3 "
          "WHERE units + ?3 <= ?4");
      units.BindInt64(1, line.product_id)
          .BindInt64(2, request.member_id)
          .BindInt64(3, line.quantity)
          .BindInt64(4, limit);
      units.Step();
      units.Reset();
      if (db.Changes() == 0 || line.quantity > limit) {
        return MakeError(Errc::kPurchaseLimitReached,
                         "the per-member limit of this sale is reached");
      }
      hold.lines.push_back(line);
      hold.total += line.price * line.quantity;
    }
    auto& insert = db.Cached(
        "INSERT INTO holds (member_id, status, total, created_at_ms, expires_at_ms, payer, "
        "payment_lease_until_ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.BindInt64(1, hold.member_id)
        .BindText(2, HoldStatusName(hold.status))
        .BindInt64(3, hold.total)
        .BindInt64(4, ToUnixMillis(hold.created_at))
        .BindInt64(5, ToUnixMillis(hold.expires_at));
    if (request.pay_now) {
      insert.BindText(6, request.worker).BindInt64(7, ToUnixMillis(request.payment_lease_until));
    } else {
      insert.BindNull(6).BindNull(7);
    }
    insert.Step();
    insert.Reset();
    hold.id = db.LastInsertRowId();
    for (const HoldLine& line : hold.lines) {
      auto& l = db.Cached(
          "INSERT INTO hold_lines (hold_id, product_id, quantity, price) VALUES (?, ?, ?, ?)");
      l.BindInt64(1, hold.id)
          .BindInt64(2, line.product_id)
          .BindInt64(3, line.quantity)
          .BindInt64(4, line.price);
      l.Step();
      l.Reset();
      Ledger(db, line.product_id, "HOLD", line.quantity, hold.id, request.now);
    }
    if (request.idempotency &&
        !ClaimIdempotencyKey(db, hold.member_id, *request.idempotency, hold.id, request.now)) {
      return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    return hold;
  };
  co_return co_await async::Write<Hold>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Hold>> SqliteHoldStore::BeginPayment(
    std::int64_t hold_id, std::int64_t member_id, TimePoint now,
    std::optional<IdempotencyTag> idempotency, std::string worker, TimePoint lease_until) {
  auto job = [hold_id, member_id, now, idempotency = std::move(idempotency),
              worker = std::move(worker), lease_until](Database& db) -> Result<Hold> {
    if (KeyClaimed(db, member_id, idempotency)) {
      return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    auto outcome = ReadHold(db, hold_id);
    if (!outcome || outcome->hold.member_id != member_id) {
      return MakeError(Errc::kNotFound, "no such hold");
    }
    Hold& hold = outcome->hold;
    if (hold.status == HoldStatus::kExpired ||
        (hold.status == HoldStatus::kActive && now >= hold.expires_at)) {
      return MakeError(Errc::kHoldExpired, "the hold expired; nothing was charged");
    }
    if (hold.status != HoldStatus::kActive) {
      return MakeError(Errc::kHoldNotActive, "the hold is already paid or released");
    }
    auto& mark = db.Cached(
        "UPDATE holds SET status = 'PAYING', payer = ?, payment_lease_until_ms = ? "
        "WHERE id = ? AND status = 'ACTIVE'");
    mark.BindText(1, worker).BindInt64(2, ToUnixMillis(lease_until)).BindInt64(3, hold_id);
    mark.Step();
    mark.Reset();
    if (idempotency && !ClaimIdempotencyKey(db, member_id, *idempotency, hold_id, now)) {
      return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    hold.status = HoldStatus::kPaying;
    return hold;
  };
  co_return co_await async::Write<Hold>(writer_, std::move(job));
}

boost::asio::awaitable<Result<PaidOrder>> SqliteHoldStore::CompletePayment(std::int64_t hold_id,
                                                                           ChargeRecord charge,
                                                                           TimePoint now) {
  auto job = [hold_id, charge = std::move(charge), now](Database& db) -> Result<PaidOrder> {
    auto outcome = ReadHold(db, hold_id);
    if (!outcome) return MakeError(Errc::kNotFound, "no such hold");
    if (outcome->hold.status == HoldStatus::kPaid && outcome->payment_id) {
      return PaidOrder{*outcome->payment_id, *outcome->payment_id,           hold_id,
                       outcome->hold.total,  std::move(outcome->hold.lines), outcome->paid_at};
    }
    if (outcome->hold.status != HoldStatus::kPaying) {
      return MakeError(Errc::kHoldNotActive, "the hold is not awaiting payment");
    }
    auto& mark = db.Cached("UPDATE holds SET status = 'PAID', resolved_at_ms = ? WHERE id = ?");
    mark.BindInt64(1, ToUnixMillis(now)).BindInt64(2, hold_id);
    mark.Step();
    mark.Reset();
    api::OrderPaid paid{0, 0, hold_id, outcome->hold.member_id, outcome->hold.total, {}, now};
    paid.lines.reserve(outcome->hold.lines.size());
    for (const HoldLine& line : outcome->hold.lines) {
      // The row being updated gives the product's name for the order line (no extra read).
      auto& inv = db.Cached(
          "UPDATE inventory SET held = held - ?, sold = sold + ? WHERE product_id = ? "
          "RETURNING name");
      inv.BindInt64(1, line.quantity).BindInt64(2, line.quantity).BindInt64(3, line.product_id);
      const bool found = inv.Step();
      paid.lines.push_back(
          {line.product_id, line.quantity, line.price, found ? inv.Text(0) : std::string()});
      inv.Reset();
      Ledger(db, line.product_id, "SELL", line.quantity, hold_id, now);
    }
    auto& pay = db.Cached(
        "INSERT INTO payments (hold_id, member_id, amount, provider_ref, status, created_at_ms) "
        "VALUES (?, ?, ?, ?, 'CAPTURED', ?)");
    pay.BindInt64(1, hold_id)
        .BindInt64(2, outcome->hold.member_id)
        .BindInt64(3, outcome->hold.total)
        .BindText(4, charge.reference)
        .BindInt64(5, ToUnixMillis(now));
    pay.Step();
    pay.Reset();
    const std::int64_t payment_id = db.LastInsertRowId();
    paid.order_id = paid.payment_id = payment_id;
    events::sqlite_outbox::Append(db, api::kOrderPaid, api::Encode(paid), now);
    // The lines are moved, not copied: the answer costs no allocation beyond the hold's read.
    return PaidOrder{
        payment_id, payment_id, hold_id, outcome->hold.total, std::move(outcome->hold.lines), now};
  };
  co_return co_await async::Write<PaidOrder>(writer_, std::move(job));
}

boost::asio::awaitable<Result<ReleasedUnits>> SqliteHoldStore::ReleaseHold(std::int64_t hold_id,
                                                                           std::int64_t member_id,
                                                                           HoldStatus from,
                                                                           ReleaseReason reason,
                                                                           TimePoint now) {
  auto job = [hold_id, member_id, from, reason, now](Database& db) -> Result<ReleasedUnits> {
    auto outcome = ReadHold(db, hold_id);
    if (!outcome || (member_id != 0 && outcome->hold.member_id != member_id)) {
      return MakeError(Errc::kNotFound, "no such hold");
    }
    if (outcome->hold.status != from) {
      if (outcome->hold.status == HoldStatus::kExpired) {
        return MakeError(Errc::kHoldExpired, "the hold already expired");
      }
      return MakeError(Errc::kHoldNotActive, "the hold is already paid or released");
    }
    return ReleaseInTransaction(db, *outcome, HoldStatus::kReleased, reason, now);
  };
  co_return co_await async::Write<ReleasedUnits>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> SqliteHoldStore::ExpireDue(
    TimePoint now, std::size_t limit) {
  auto job = [now, limit](Database& db) -> Result<std::vector<ReleasedUnits>> {
    std::vector<std::int64_t> due;
    auto& s = db.Cached(
        "SELECT id FROM holds WHERE status = 'ACTIVE' AND expires_at_ms <= ? "
        "ORDER BY expires_at_ms LIMIT ?");
    s.BindInt64(1, ToUnixMillis(now)).BindInt64(2, static_cast<std::int64_t>(limit));
    while (s.Step()) due.push_back(s.Int64(0));
    s.Reset();
    std::vector<ReleasedUnits> released;
    for (std::int64_t id : due) {
      auto outcome = ReadHold(db, id);
      if (!outcome || outcome->hold.status != HoldStatus::kActive) continue;
      released.push_back(
          ReleaseInTransaction(db, *outcome, HoldStatus::kExpired, ReleaseReason::kExpired, now));
    }
    return released;
  };
  co_return co_await async::Write<std::vector<ReleasedUnits>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::vector<std::int64_t>>> SqliteHoldStore::ClaimStalePayments(
    std::string worker, TimePoint now, TimePoint lease_until, bool include_own, std::size_t limit) {
  auto job = [worker = std::move(worker), now, lease_until, include_own,
              limit](Database& db) -> Result<std::vector<std::int64_t>> {
    // One statement: the holds are chosen and leased in the same write, so a second resolver
    // (another instance's writer, serialized on the file's write lock) sees them leased.
    auto& s = db.Cached(
        "UPDATE holds SET payer = ?1, payment_lease_until_ms = ?2 WHERE id IN ("
        "  SELECT id FROM holds WHERE status = 'PAYING' AND (payment_lease_until_ms IS NULL"
        "    OR payment_lease_until_ms <= ?3 OR (?4 AND payer = ?1))"
        "  ORDER BY id LIMIT ?5) "
        "RETURNING id");
    s.BindText(1, worker)
        .BindInt64(2, ToUnixMillis(lease_until))
        .BindInt64(3, ToUnixMillis(now))
        .BindInt64(4, include_own ? 1 : 0)
        .BindInt64(5, static_cast<std::int64_t>(limit));
    std::vector<std::int64_t> ids;
    while (s.Step()) ids.push_back(s.Int64(0));
    s.Reset();
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  co_return co_await async::Write<std::vector<std::int64_t>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::optional<HoldOutcome>>> SqliteHoldStore::FindHold(
    std::int64_t hold_id) {
  co_return ReadHold(readers_.ForThisThread(), hold_id);
}

boost::asio::awaitable<Result<std::optional<PaidPurchase>>> SqliteHoldStore::FindPaidPurchase(
    std::int64_t payment_id) {
  Database& db = readers_.ForThisThread();
  auto& s =
      db.Cached("SELECT member_id, amount, created_at_ms, hold_id FROM payments WHERE id = ?");
  s.BindInt64(1, payment_id);
  if (!s.Step()) {
    s.Reset();
    co_return std::optional<PaidPurchase>{};
  }
  PaidPurchase out{payment_id, s.Int64(0), s.Int64(1), FromUnixMillis(s.Int64(2)), {}};
  const std::int64_t hold_id = s.Int64(3);
  s.Reset();
  auto& l = db.Cached(
      "SELECT l.product_id, l.quantity, l.price, COALESCE(i.name, '') FROM hold_lines l "
      "LEFT JOIN inventory i ON i.product_id = l.product_id WHERE l.hold_id = ? "
      "ORDER BY l.product_id");
  l.BindInt64(1, hold_id);
  while (l.Step()) out.lines.push_back({{l.Int64(0), l.Int64(1), l.Int64(2)}, l.Text(3)});
  l.Reset();
  co_return std::optional<PaidPurchase>{std::move(out)};
}

boost::asio::awaitable<Result<OpenHoldsPage>> SqliteHoldStore::OpenHolds(std::int64_t member_id,
                                                                         TimePoint now,
                                                                         std::int64_t before_id,
                                                                         std::size_t limit) {
  Database& db = readers_.ForThisThread();
  // PAYING holds are found through holds_by_status: there are only as many as payments in flight.
  auto& ids = db.Cached(
      "SELECT id FROM holds WHERE member_id = ?1 AND status = 'ACTIVE' AND expires_at_ms > ?2 "
      "AND id < ?3 "
      "UNION ALL SELECT id FROM holds WHERE status = 'PAYING' AND member_id = ?1 AND id < ?3 "
      "ORDER BY id DESC LIMIT ?4");
  ids.BindInt64(1, member_id)
      .BindInt64(2, ToUnixMillis(now))
      .BindInt64(3, before_id > 0 ? before_id : INT64_MAX)
      .BindInt64(4, static_cast<std::int64_t>(limit));
  std::vector<std::int64_t> found;
  while (ids.Step()) found.push_back(ids.Int64(0));
  ids.Reset();
  OpenHoldsPage page;
  for (const std::int64_t id : found) {
    if (auto outcome = ReadHold(db, id)) page.items.push_back(std::move(outcome->hold));
  }
  auto& count = db.Cached(
      "SELECT (SELECT count(*) FROM holds WHERE member_id = ?1 AND status = 'ACTIVE' "
      "AND expires_at_ms > ?2) + (SELECT count(*) FROM holds WHERE status = 'PAYING' "
      "AND member_id = ?1)");
  count.BindInt64(1, member_id).BindInt64(2, ToUnixMillis(now));
  if (count.Step()) page.total = count.Int64(0);
  count.Reset();
  co_return page;
}

}  // namespace rocketmart::checkout

#include "services/checkout/adapters/sqlite_checkout_schema.hpp"

namespace rocketmart::checkout {
namespace {

constexpr storage::Migration kMigrations[] = {
    {1, "inventory, sales, holds, payments, ledger, idempotency", R"sql(
      CREATE TABLE inventory (
        product_id      INTEGER PRIMARY KEY,
        price           INTEGER NOT NULL CHECK (price >= 0),
        initial         INTEGER NOT NULL CHECK (initial >= 0),
        restocked       INTEGER NOT NULL DEFAULT 0 CHECK (restocked >= 0),
        available       INTEGER NOT NULL CHECK (available >= 0),
        held            INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
        sold            INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
        retired         INTEGER NOT NULL DEFAULT 0,
        catalog_version INTEGER NOT NULL
      );
      CREATE TABLE sales (
        product_id       INTEGER PRIMARY KEY,
        starts_at_ms     INTEGER NOT NULL,
        ends_at_ms       INTEGER NOT NULL,
        per_member_limit INTEGER NOT NULL CHECK (per_member_limit >= 1),
        updated_at_ms    INTEGER NOT NULL,
        CHECK (ends_at_ms > starts_at_ms)
      );
      CREATE TABLE member_units (
        product_id INTEGER NOT NULL,
        member_id  INTEGER NOT NULL,
        units      INTEGER NOT NULL CHECK (units >= 0),
        PRIMARY KEY (product_id, member_id)
      ) WITHOUT ROWID;
      CREATE TABLE holds (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        member_id      INTEGER NOT NULL,
        status         TEXT    NOT NULL,
        total          INTEGER NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        expires_at_ms  INTEGER NOT NULL,
        resolved_at_ms INTEGER,
        release_reason TEXT
      );
      CREATE INDEX holds_active_by_expiry ON holds (expires_at_ms) WHERE status = 'ACTIVE';
      CREATE INDEX holds_by_status ON holds (status);
      CREATE TABLE hold_lines (
        hold_id    INTEGER NOT NULL REFERENCES holds (id),
        product_id INTEGER NOT NULL,
        quantity   INTEGER NOT NULL CHECK (quantity > 0),
        price      INTEGER NOT NULL CHECK (price >= 0),
        PRIMARY KEY (hold_id, product_id)
      ) WITHOUT ROWID;
      CREATE TABLE payments (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        hold_id       INTEGER NOT NULL UNIQUE REFERENCES holds (id),
        member_id     INTEGER NOT NULL,
        amount        INTEGER NOT NULL,
        provider_ref  TEXT    NOT NULL,
        status        TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE TABLE stock_ledger (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        product_id INTEGER NOT NULL,
        kind       TEXT    NOT NULL,
        quantity   INTEGER NOT NULL,
        hold_id    INTEGER,
        at_ms      INTEGER NOT NULL
      );
      CREATE TABLE idempotency (
        member_id     INTEGER NOT NULL,
        key           TEXT    NOT NULL,
        request_hash  TEXT    NOT NULL,
        operation     TEXT    NOT NULL,
        hold_id       INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (member_id, key)
      ) WITHOUT ROWID;
    )sql"},
    // Refunds (orders cancelled or returned). Refunded units go back to `available` and leave
    // `sold`; `refunded` counts them so the paid holds still explain every unit:
    //   initial + restocked = available + held + sold   and   sold + refunded = units in PAID
    //   holds.
    // refund_pending: the payment is REFUNDED here but the provider has not confirmed it yet.
    {2, "refunds", R"sql(
      ALTER TABLE inventory ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0);
      ALTER TABLE payments ADD COLUMN refund_pending INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE payments ADD COLUMN refunded_at_ms INTEGER;
      CREATE INDEX payments_refund_pending ON payments (id) WHERE refund_pending = 1;
    )sql"},
    // Idempotency records are kept for checkout.idempotency_ttl_s, then forgotten oldest first.
    {3, "idempotency retention", R"sql(
      CREATE INDEX idempotency_by_age ON idempotency (created_at_ms);
    )sql"},
    // GET /payment/holds: a member's ACTIVE holds without a scan. Partial, so a one-shot purchase
    // (its hold goes PAYING -> PAID, never ACTIVE) never touches it. Version 4 is unused: it was
    // kept for i11-cart's product names, which came later as 6 (a database migrated to 5 first
    // would never have applied a 4).
    {5, "open holds by member", R"sql(
      CREATE INDEX holds_active_by_member ON holds (member_id, id) WHERE status = 'ACTIVE';
    )sql"},
    // Product names from the catalog's events, carried on order.paid lines so an order still
    // reads after its product is retired (issue 11). Rows from before are '' until the product's
    // next event.
    {6, "product names", R"sql(
      ALTER TABLE inventory ADD COLUMN name TEXT NOT NULL DEFAULT '';
    )sql"},
    // Refunds the provider confirmed are reported to the orders service as payment.refunded (see
    // SettleRefund). Those settled before the event existed are reported once, here, with the
    // time they were refunded, so their orders do not read PENDING forever.
    {7, "report refunds settled before payment.refunded", R"sql(
      INSERT INTO outbox (topic, payload, created_at_ms)
      SELECT 'payment.refunded',
             json_object('orderId', id, 'paymentId', id, 'memberId', member_id,
                         'amount', amount, 'refundedAtMs', COALESCE(refunded_at_ms, created_at_ms)),
             COALESCE(refunded_at_ms, created_at_ms)
      FROM payments WHERE status = 'REFUNDED' AND refund_pending = 0 ORDER BY id;
    )sql"},
    // Work that any instance may pick up is leased (issue 12): a payment in flight names who pays
    // it and until when, so a resolver on another instance (or a restart) claims only what nobody
    // is paying; a pending provider refund names who asks the provider. NULL = never leased
    // (rows from before: free to claim).
    {8, "payment and refund leases", R"sql(
      ALTER TABLE holds ADD COLUMN payer TEXT;
      ALTER TABLE holds ADD COLUMN payment_lease_until_ms INTEGER;
      ALTER TABLE payments ADD COLUMN refund_worker TEXT;
      ALTER TABLE payments ADD COLUMN refund_lease_until_ms INTEGER;
    )sql"},
    // A sale's version (issue 14/15): +1 per write, carried by the sale.changed event written in
    // the same transaction, so every checkout instance keeps the newest sale whatever order the
    // events arrive in. Sales from before start at 1 (every instance loads them at start).
    {9, "sale versions", R"sql(
      ALTER TABLE sales ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    )sql"},
};

}  // namespace

std::span<const storage::Migration> CheckoutMigrations() {
  return kMigrations;
}

namespace sqlite_internal {

using storage::Database;

void Ledger(Database& db, std::int64_t product_id, std::string_view kind, std::int64_t quantity,
            std::int64_t hold_id, TimePoint now) {
  auto& s = db.Cached(
      "INSERT INTO stock_ledger (product_id, kind, quantity, hold_id, at_ms) VALUES (?, ?, ?, ?, "
      "?)");
  s.BindInt64(1, product_id).BindText(2, kind).BindInt64(3, quantity);
  if (hold_id > 0) {
    s.BindInt64(4, hold_id);
  } else {
    s.BindNull(4);
  }
  s.BindInt64(5, ToUnixMillis(now));
  s.Step();
  s.Reset();
}

std::vector<HoldLine> LoadLines(Database& db, std::int64_t hold_id) {
  auto& s = db.Cached(
      "SELECT product_id, quantity, price FROM hold_lines WHERE hold_id = ? ORDER BY product_id");
  s.BindInt64(1, hold_id);
  std::vector<HoldLine> lines;
  while (s.Step()) lines.push_back({s.Int64(0), s.Int64(1), s.Int64(2)});
  s.Reset();
  return lines;
}

std::optional<HoldOutcome> ReadHold(Database& db, std::int64_t hold_id) {
  auto& s = db.Cached(
      "SELECT h.member_id, h.status, h.total, h.created_at_ms, h.expires_at_ms, "
      "COALESCE(h.release_reason, ''), p.id, p.created_at_ms FROM holds h "
      "LEFT JOIN payments p ON p.hold_id = h.id WHERE h.id = ?");
  s.BindInt64(1, hold_id);
  if (!s.Step()) {
    s.Reset();
    return std::nullopt;
  }
  HoldOutcome out;
  out.hold.id = hold_id;
  out.hold.member_id = s.Int64(0);
  out.hold.status = ParseHoldStatus(s.TextView(1)).value_or(HoldStatus::kReleased);
  out.hold.total = s.Int64(2);
  out.hold.created_at = FromUnixMillis(s.Int64(3));
  out.hold.expires_at = FromUnixMillis(s.Int64(4));
  out.release_reason = s.Text(5);
  if (!s.IsNull(6)) {
    out.payment_id = s.Int64(6);
    out.paid_at = FromUnixMillis(s.Int64(7));
  }
  s.Reset();
  out.hold.lines = LoadLines(db, hold_id);
  return out;
}

// Returns the hold's units to `available` and the members' counts; marks it released.
ReleasedUnits ReleaseInTransaction(Database& db, const HoldOutcome& outcome, HoldStatus to,
                                   ReleaseReason reason, TimePoint now) {
  auto& mark =
      db.Cached("UPDATE holds SET status = ?, resolved_at_ms = ?, release_reason = ? WHERE id = ?");
  mark.BindText(1, HoldStatusName(to))
      .BindInt64(2, ToUnixMillis(now))
      .BindText(3, ReleaseReasonName(reason))
      .BindInt64(4, outcome.hold.id);
  mark.Step();
  mark.Reset();
  for (const HoldLine& line : outcome.hold.lines) {
    auto& inv = db.Cached(
        "UPDATE inventory SET available = available + ?, held = held - ? WHERE product_id = ?");
    inv.BindInt64(1, line.quantity).BindInt64(2, line.quantity).BindInt64(3, line.product_id);
    inv.Step();
    inv.Reset();
    auto& units = db.Cached(
        "UPDATE member_units SET units = units - ? WHERE product_id = ? AND member_id = ?");
    units.BindInt64(1, line.quantity)
        .BindInt64(2, line.product_id)
        .BindInt64(3, outcome.hold.member_id);
    units.Step();
    units.Reset();
    Ledger(db, line.product_id, "RELEASE", line.quantity, outcome.hold.id, now);
  }
  return ReleasedUnits{outcome.hold.member_id, outcome.hold.lines};
}

InventoryRow ReadInventoryRow(const storage::Statement& s) {
  return InventoryRow{s.Int64(0), s.Int64(1), s.Int64(2),      s.Int64(3), s.Int64(4),
                      s.Int64(5), s.Int64(6), s.Int64(7) != 0, s.Int64(8)};
}

}  // namespace sqlite_internal
}  // namespace rocketmart::checkout

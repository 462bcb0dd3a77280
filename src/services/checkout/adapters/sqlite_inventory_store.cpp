#include "services/checkout/adapters/sqlite_inventory_store.hpp"

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {
namespace {

using storage::Database;

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
};

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

// `lines`: the hold's lines with each product's name, built while the stock moved.
InventoryRow ReadInventoryRow(const storage::Statement& s) {
  return InventoryRow{s.Int64(0), s.Int64(1), s.Int64(2),      s.Int64(3), s.Int64(4),
                      s.Int64(5), s.Int64(6), s.Int64(7) != 0, s.Int64(8)};
}

constexpr std::string_view kInventoryColumns =
    "SELECT product_id, price, initial, restocked, available, held, sold, retired, catalog_version "
    "FROM inventory";

}  // namespace

std::string_view ReleaseReasonName(ReleaseReason reason) {
  switch (reason) {
    case ReleaseReason::kCancelled:
      return "CANCELLED";
    case ReleaseReason::kDeclined:
      return "DECLINED";
    case ReleaseReason::kExpired:
      return "EXPIRED";
    case ReleaseReason::kRecovered:
      return "RECOVERED";
  }
  return "RECOVERED";
}

std::span<const storage::Migration> CheckoutMigrations() {
  return kMigrations;
}

std::uint64_t SqliteInventoryStore::KeyHash(std::int64_t member_id, std::string_view key) {
  std::uint64_t h = std::hash<std::string_view>{}(key);
  // Mixes the member in (boost::hash_combine's step) so equal keys of two members differ.
  h ^= static_cast<std::uint64_t>(member_id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

void SqliteInventoryStore::RememberKey(std::int64_t member_id, std::string_view key) {
  std::unique_lock lock(keys_mutex_);
  ++known_keys_[KeyHash(member_id, key)];
}

std::vector<InventoryRow> SqliteInventoryStore::LoadInventory() {
  std::vector<InventoryRow> rows;
  std::vector<std::uint64_t> keys;
  writer_.RunSync([&rows, &keys](Database& db) {
    auto s = db.Prepare(std::string(kInventoryColumns) + " ORDER BY product_id");
    while (s.Step()) rows.push_back(ReadInventoryRow(s));
    auto k = db.Prepare("SELECT member_id, key FROM idempotency");
    while (k.Step()) keys.push_back(KeyHash(k.Int64(0), k.TextView(1)));
  });
  std::unique_lock lock(keys_mutex_);
  known_keys_.clear();
  for (std::uint64_t h : keys) ++known_keys_[h];
  return rows;
}

std::vector<std::pair<std::int64_t, Sale>> SqliteInventoryStore::LoadSales() {
  std::vector<std::pair<std::int64_t, Sale>> sales;
  writer_.RunSync([&sales](Database& db) {
    auto s = db.Prepare("SELECT product_id, starts_at_ms, ends_at_ms, per_member_limit FROM sales");
    while (s.Step()) {
      sales.emplace_back(s.Int64(0),
                         Sale{FromUnixMillis(s.Int64(1)), FromUnixMillis(s.Int64(2)), s.Int64(3)});
    }
  });
  return sales;
}

std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, std::int64_t>>
SqliteInventoryStore::LoadMemberUnits() {
  std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, std::int64_t>> out;
  writer_.RunSync([&out](Database& db) {
    auto s = db.Prepare("SELECT product_id, member_id, units FROM member_units WHERE units > 0");
    while (s.Step()) out[s.Int64(0)][s.Int64(1)] = s.Int64(2);
  });
  return out;
}

std::vector<std::int64_t> SqliteInventoryStore::HoldsInStatus(HoldStatus status) {
  std::vector<std::int64_t> ids;
  writer_.RunSync([&ids, status](Database& db) {
    auto s = db.Prepare("SELECT id FROM holds WHERE status = ? ORDER BY id");
    s.BindText(1, HoldStatusName(status));
    while (s.Step()) ids.push_back(s.Int64(0));
  });
  return ids;
}

std::vector<InvariantReport> SqliteInventoryStore::CheckInvariants() {
  std::vector<InvariantReport> problems;
  Database& db = readers_.ForThisThread();
  auto s = db.Prepare(R"sql(
    SELECT i.product_id, i.initial, i.restocked, i.available, i.held, i.sold,
      COALESCE((SELECT SUM(l.quantity) FROM hold_lines l JOIN holds h ON h.id = l.hold_id
                WHERE l.product_id = i.product_id AND h.status IN ('ACTIVE', 'PAYING')), 0),
      COALESCE((SELECT SUM(l.quantity) FROM hold_lines l JOIN holds h ON h.id = l.hold_id
                WHERE l.product_id = i.product_id AND h.status = 'PAID'), 0),
      i.refunded
    FROM inventory i)sql");
  while (s.Step()) {
    const std::int64_t product = s.Int64(0);
    if (s.Int64(1) + s.Int64(2) != s.Int64(3) + s.Int64(4) + s.Int64(5)) {
      problems.push_back({product, "initial + restocked != available + held + sold"});
    }
    if (s.Int64(4) != s.Int64(6)) problems.push_back({product, "held != units in open holds"});
    if (s.Int64(5) + s.Int64(8) != s.Int64(7)) {
      problems.push_back({product, "sold + refunded != units in paid holds"});
    }
  }
  return problems;
}

std::optional<IdempotencyEntry> SqliteInventoryStore::FindIdempotency(std::int64_t member_id,
                                                                      std::string_view key) {
  {
    std::shared_lock lock(keys_mutex_);
    if (!known_keys_.contains(KeyHash(member_id, key))) return std::nullopt;
  }
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT request_hash, operation, hold_id FROM idempotency WHERE member_id = ? AND key = ?");
  s.BindInt64(1, member_id).BindText(2, key);
  std::optional<IdempotencyEntry> out;
  if (s.Step()) out = IdempotencyEntry{s.Text(0), s.Text(1), s.Int64(2)};
  s.Reset();
  return out;
}

std::optional<HoldOutcome> SqliteInventoryStore::FindHold(std::int64_t hold_id) {
  return ReadHold(readers_.ForThisThread(), hold_id);
}

std::optional<PaidPurchase> SqliteInventoryStore::FindPaidPurchase(std::int64_t payment_id) {
  Database& db = readers_.ForThisThread();
  auto& s =
      db.Cached("SELECT member_id, amount, created_at_ms, hold_id FROM payments WHERE id = ?");
  s.BindInt64(1, payment_id);
  if (!s.Step()) {
    s.Reset();
    return std::nullopt;
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
  return out;
}

OpenHoldsPage SqliteInventoryStore::OpenHolds(std::int64_t member_id, TimePoint now,
                                              std::int64_t before_id, std::size_t limit) {
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
  return page;
}

boost::asio::awaitable<Result<Hold>> SqliteInventoryStore::PlaceHold(HoldRequest request) {
  const std::optional<IdempotencyTag> tag = request.idempotency;
  auto job = [request = std::move(request)](Database& db) -> Result<Hold> {
    if (request.start_by != kNoDeadline && std::chrono::steady_clock::now() > request.start_by) {
      return MakeError(Errc::kTimeout,
                       "the purchase waited too long to start; nothing was done, retry");
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
        "INSERT INTO holds (member_id, status, total, created_at_ms, expires_at_ms) "
        "VALUES (?, ?, ?, ?, ?)");
    insert.BindInt64(1, hold.member_id)
        .BindText(2, HoldStatusName(hold.status))
        .BindInt64(3, hold.total)
        .BindInt64(4, ToUnixMillis(hold.created_at))
        .BindInt64(5, ToUnixMillis(hold.expires_at));
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
    if (request.idempotency) {
      auto& idem = db.Cached(
          "INSERT OR IGNORE INTO idempotency (member_id, key, request_hash, operation, hold_id, "
          "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)");
      idem.BindInt64(1, hold.member_id)
          .BindText(2, request.idempotency->key)
          .BindText(3, request.idempotency->request_hash)
          .BindText(4, request.idempotency->operation)
          .BindInt64(5, hold.id)
          .BindInt64(6, ToUnixMillis(request.now));
      idem.Step();
      idem.Reset();
      if (db.Changes() == 0) return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    return hold;
  };
  auto hold = co_await async::Write<Hold>(writer_, std::move(job));
  if (hold.ok() && tag) RememberKey(hold->member_id, tag->key);
  co_return hold;
}

boost::asio::awaitable<Result<Hold>> SqliteInventoryStore::BeginPayment(
    std::int64_t hold_id, std::int64_t member_id, TimePoint now,
    std::optional<IdempotencyTag> idempotency) {
  const std::optional<std::string> key =
      idempotency ? std::optional<std::string>(idempotency->key) : std::nullopt;
  auto job = [hold_id, member_id, now,
              idempotency = std::move(idempotency)](Database& db) -> Result<Hold> {
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
    auto& mark = db.Cached("UPDATE holds SET status = 'PAYING' WHERE id = ? AND status = 'ACTIVE'");
    mark.BindInt64(1, hold_id);
    mark.Step();
    mark.Reset();
    if (idempotency) {
      auto& idem = db.Cached(
          "INSERT OR IGNORE INTO idempotency (member_id, key, request_hash, operation, hold_id, "
          "created_at_ms) VALUES (?, ?, ?, ?, ?, ?)");
      idem.BindInt64(1, member_id)
          .BindText(2, idempotency->key)
          .BindText(3, idempotency->request_hash)
          .BindText(4, idempotency->operation)
          .BindInt64(5, hold_id)
          .BindInt64(6, ToUnixMillis(now));
      idem.Step();
      idem.Reset();
      if (db.Changes() == 0) return MakeError(Errc::kRequestInFlight, "idempotency key in use");
    }
    hold.status = HoldStatus::kPaying;
    return hold;
  };
  auto hold = co_await async::Write<Hold>(writer_, std::move(job));
  if (hold.ok() && key) RememberKey(member_id, *key);
  co_return hold;
}

boost::asio::awaitable<Result<PaidOrder>> SqliteInventoryStore::CompletePayment(
    std::int64_t hold_id, ChargeRecord charge, TimePoint now) {
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

boost::asio::awaitable<Result<ReleasedUnits>> SqliteInventoryStore::ReleaseHold(
    std::int64_t hold_id, std::int64_t member_id, HoldStatus from, ReleaseReason reason,
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

boost::asio::awaitable<Result<std::vector<ReleasedUnits>>> SqliteInventoryStore::ExpireDue(
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

boost::asio::awaitable<Result<std::size_t>> SqliteInventoryStore::ForgetIdempotencyKeys(
    TimePoint created_before, std::size_t limit) {
  auto job = [created_before, limit](Database& db) -> Result<std::vector<std::uint64_t>> {
    auto& s = db.Cached(
        "DELETE FROM idempotency WHERE (member_id, key) IN ("
        "  SELECT i.member_id, i.key FROM idempotency i JOIN holds h ON h.id = i.hold_id"
        "  WHERE i.created_at_ms < ?1 AND h.status NOT IN ('ACTIVE', 'PAYING')"
        "  ORDER BY i.created_at_ms LIMIT ?2) "
        "RETURNING member_id, key");
    s.BindInt64(1, ToUnixMillis(created_before)).BindInt64(2, static_cast<std::int64_t>(limit));
    std::vector<std::uint64_t> forgotten;
    while (s.Step()) forgotten.push_back(KeyHash(s.Int64(0), s.TextView(1)));
    s.Reset();
    return forgotten;
  };
  auto forgotten = co_await async::Write<std::vector<std::uint64_t>>(writer_, std::move(job));
  if (!forgotten.ok()) co_return forgotten.error();
  {
    // Only after the commit: until then a retry must still find its record.
    std::unique_lock lock(keys_mutex_);
    for (std::uint64_t h : *forgotten) {
      auto it = known_keys_.find(h);
      if (it != known_keys_.end() && --it->second == 0) known_keys_.erase(it);
    }
  }
  co_return forgotten->size();
}

boost::asio::awaitable<Result<InventoryRow>> SqliteInventoryStore::Restock(std::int64_t product_id,
                                                                           std::int64_t quantity,
                                                                           TimePoint now) {
  auto job = [product_id, quantity, now](Database& db) -> Result<InventoryRow> {
    // Guarded like a hold: the ceiling holds whatever the caller checked.
    auto& up = db.Cached(
        "UPDATE inventory SET available = available + ?1, restocked = restocked + ?1 "
        "WHERE product_id = ?2 AND retired = 0 AND initial + restocked + ?1 <= ?3");
    up.BindInt64(1, quantity).BindInt64(2, product_id).BindInt64(3, kMaxUnitsStocked);
    up.Step();
    up.Reset();
    if (db.Changes() == 0) {
      auto& row = db.Cached(
          "SELECT initial + restocked FROM inventory WHERE product_id = ? AND retired = 0");
      row.BindInt64(1, product_id);
      const bool exists = row.Step();
      const std::int64_t stocked = exists ? row.Int64(0) : 0;
      row.Reset();
      if (!exists) return MakeError(Errc::kNotFound, "no such product");
      return MakeError(Errc::kValidationFailed,
                       "a product is stocked with at most " + std::to_string(kMaxUnitsStocked) +
                           " units over its life (initial + restocked); room left: " +
                           std::to_string(kMaxUnitsStocked - stocked),
                       "quantity");
    }
    Ledger(db, product_id, "RESTOCK", quantity, 0, now);
    static const std::string sql = std::string(kInventoryColumns) + " WHERE product_id = ?";
    auto& s = db.Cached(sql);
    s.BindInt64(1, product_id);
    s.Step();
    InventoryRow row = ReadInventoryRow(s);
    s.Reset();
    return row;
  };
  co_return co_await async::Write<InventoryRow>(writer_, std::move(job));
}

boost::asio::awaitable<Status> SqliteInventoryStore::SaveSale(std::int64_t product_id, Sale sale,
                                                              TimePoint now) {
  auto job = [product_id, sale, now](Database& db) -> Result<bool> {
    auto& s = db.Cached(
        "INSERT INTO sales (product_id, starts_at_ms, ends_at_ms, per_member_limit, updated_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (product_id) DO UPDATE SET "
        "starts_at_ms = ?2, ends_at_ms = ?3, per_member_limit = ?4, updated_at_ms = ?5");
    s.BindInt64(1, product_id)
        .BindInt64(2, ToUnixMillis(sale.starts_at))
        .BindInt64(3, ToUnixMillis(sale.ends_at))
        .BindInt64(4, sale.per_member_limit)
        .BindInt64(5, ToUnixMillis(now));
    s.Step();
    s.Reset();
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

std::optional<InventoryRow> SqliteInventoryStore::ApplyProductFacts(const ProductFacts& facts,
                                                                    std::string_view event_id,
                                                                    TimePoint now) {
  std::optional<InventoryRow> row;
  const std::string id(event_id);
  writer_.RunSync([&](Database& db) {
    if (!events::sqlite_outbox::ClaimEvent(db, "checkout.inventory", id, now)) return;
    auto& exists = db.Cached("SELECT 1 FROM inventory WHERE product_id = ?");
    exists.BindInt64(1, facts.product_id);
    const bool known = exists.Step();
    exists.Reset();
    if (!known) {
      auto& insert = db.Cached(
          "INSERT INTO inventory (product_id, price, initial, available, retired, catalog_version, "
          "name) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)");
      insert.BindInt64(1, facts.product_id)
          .BindInt64(2, facts.price)
          .BindInt64(3, facts.initial_stock)
          .BindInt64(4, facts.retired ? 1 : 0)
          .BindInt64(5, facts.version)
          .BindText(6, facts.name);
      insert.Step();
      insert.Reset();
      Ledger(db, facts.product_id, "INIT", facts.initial_stock, 0, now);
    } else {
      auto& update = db.Cached(
          "UPDATE inventory SET price = ?2, retired = ?3, catalog_version = ?4, "
          "name = CASE WHEN ?5 = '' THEN name ELSE ?5 END "
          "WHERE product_id = ?1 AND catalog_version < ?4");
      update.BindInt64(1, facts.product_id)
          .BindInt64(2, facts.price)
          .BindInt64(3, facts.retired ? 1 : 0)
          .BindInt64(4, facts.version)
          .BindText(5, facts.name);
      update.Step();
      update.Reset();
      if (db.Changes() == 0) return;
    }
    static const std::string sql = std::string(kInventoryColumns) + " WHERE product_id = ?";
    auto& read = db.Cached(sql);
    read.BindInt64(1, facts.product_id);
    read.Step();
    row = ReadInventoryRow(read);
    read.Reset();
  });
  return row;
}

std::optional<RefundedPayment> SqliteInventoryStore::RefundPayment(std::int64_t payment_id,
                                                                   std::string_view consumer,
                                                                   std::string_view event_id,
                                                                   TimePoint now) {
  std::optional<RefundedPayment> out;
  const std::string consumer_name(consumer);
  const std::string id(event_id);
  writer_.RunSync([&](Database& db) {
    if (!events::sqlite_outbox::ClaimEvent(db, consumer_name, id, now)) return;
    // The guard makes a second event about the same payment (cancel and return cannot both
    // happen, but a replayed or duplicated event can) change nothing.
    auto& mark = db.Cached(
        "UPDATE payments SET status = 'REFUNDED', refund_pending = 1, refunded_at_ms = ? "
        "WHERE id = ? AND status = 'CAPTURED'");
    mark.BindInt64(1, ToUnixMillis(now)).BindInt64(2, payment_id);
    mark.Step();
    mark.Reset();
    if (db.Changes() == 0) return;
    auto& p = db.Cached("SELECT hold_id, member_id, amount FROM payments WHERE id = ?");
    p.BindInt64(1, payment_id);
    p.Step();
    RefundedPayment r{payment_id, p.Int64(0), p.Int64(1), p.Int64(2), {}};
    p.Reset();
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
    out = std::move(r);
  });
  return out;
}

std::vector<RefundedPayment> SqliteInventoryStore::PendingRefunds(std::size_t limit) {
  std::vector<RefundedPayment> out;
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT id, hold_id, member_id, amount FROM payments WHERE refund_pending = 1 "
      "ORDER BY id LIMIT ?");
  s.BindInt64(1, static_cast<std::int64_t>(limit));
  while (s.Step()) out.push_back({s.Int64(0), s.Int64(1), s.Int64(2), s.Int64(3), {}});
  s.Reset();
  return out;
}

void SqliteInventoryStore::SettleRefund(std::int64_t payment_id, TimePoint now) {
  writer_.RunSync([payment_id, now](Database& db) {
    // Guarded: the refund settles once, with one payment.refunded event for the orders service.
    auto& s = db.Cached(
        "UPDATE payments SET refund_pending = 0 WHERE id = ? AND refund_pending = 1 "
        "RETURNING member_id, amount");
    s.BindInt64(1, payment_id);
    if (!s.Step()) {
      s.Reset();
      return;
    }
    const api::PaymentRefunded refunded{payment_id, payment_id, s.Int64(0), s.Int64(1), now};
    s.Reset();
    events::sqlite_outbox::Append(db, api::kPaymentRefunded, api::Encode(refunded), now);
  });
}

std::optional<ProductSaleFigures> SqliteInventoryStore::SaleFigures(std::int64_t product_id) {
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(R"sql(
    SELECT i.available, i.held, i.sold, i.refunded,
      COALESCE((SELECT SUM(l.quantity * l.price) FROM hold_lines l
                JOIN payments p ON p.hold_id = l.hold_id
                WHERE l.product_id = i.product_id AND p.status = 'CAPTURED'), 0),
      COALESCE((SELECT SUM(l.quantity * l.price) FROM hold_lines l
                JOIN payments p ON p.hold_id = l.hold_id
                WHERE l.product_id = i.product_id AND p.status = 'REFUNDED'), 0)
    FROM inventory i WHERE i.product_id = ?)sql");
  s.BindInt64(1, product_id);
  std::optional<ProductSaleFigures> out;
  if (s.Step()) {
    out =
        ProductSaleFigures{s.Int64(0), s.Int64(1), s.Int64(2), s.Int64(3), s.Int64(4), s.Int64(5)};
  }
  s.Reset();
  return out;
}

}  // namespace rocketmart::checkout

#include "services/orders/adapters/sqlite_order_store.hpp"

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/orders/adapters/consumers.hpp"
#include "services/orders/api/events.hpp"

namespace rocketmart::orders {
namespace {

using storage::Database;

constexpr storage::Migration kMigrations[] = {
    {1, "orders, lines, history", R"sql(
      CREATE TABLE orders (
        id            INTEGER PRIMARY KEY,
        member_id     INTEGER NOT NULL,
        payment_id    INTEGER NOT NULL UNIQUE,
        status        TEXT    NOT NULL,
        total         INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
      );
      CREATE INDEX orders_by_member ON orders (member_id, id DESC);
      CREATE TABLE order_lines (
        order_id   INTEGER NOT NULL REFERENCES orders (id),
        product_id INTEGER NOT NULL,
        quantity   INTEGER NOT NULL CHECK (quantity > 0),
        price      INTEGER NOT NULL CHECK (price >= 0),
        PRIMARY KEY (order_id, product_id)
      ) WITHOUT ROWID;
      CREATE TABLE order_history (
        order_id INTEGER NOT NULL REFERENCES orders (id),
        seq      INTEGER NOT NULL,
        status   TEXT    NOT NULL,
        at_ms    INTEGER NOT NULL,
        cause    TEXT    NOT NULL,
        PRIMARY KEY (order_id, seq)
      ) WITHOUT ROWID;
    )sql"},
    // The durable schedule: one row per order holding its next automatic step. Orders that existed
    // before this migration get theirs from EnsureScheduled() at start-up (the delays are
    // configuration, which a migration cannot see).
    {2, "order schedule, operator hold, delivery time, history kinds", R"sql(
      ALTER TABLE orders ADD COLUMN on_hold INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE orders ADD COLUMN delivered_at_ms INTEGER;
      ALTER TABLE order_history ADD COLUMN kind TEXT NOT NULL DEFAULT 'transition';
      CREATE TABLE order_schedule (
        order_id    INTEGER PRIMARY KEY REFERENCES orders (id),
        from_status TEXT    NOT NULL,
        to_status   TEXT    NOT NULL,
        due_at_ms   INTEGER NOT NULL
      );
      CREATE INDEX order_schedule_by_due ON order_schedule (due_at_ms);
      CREATE INDEX orders_by_status ON orders (status, id DESC);
      CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);
    )sql"},
    // Who did an operator's action (advance, hold, release): the admin's member id on the history
    // line. And the number of orders per status, kept by triggers, so the admin list's total is a
    // read of a few rows instead of a count over the table.
    // Version 3 is unused: it was kept for i11-cart's product names, which came later as 5 (a
    // database migrated to 4 first would never have applied a 3).
    {4, "history actor, order counts", R"sql(
      ALTER TABLE order_history ADD COLUMN actor_id INTEGER;
      CREATE TABLE order_counts (
        status TEXT    PRIMARY KEY,
        orders INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO order_counts (status, orders) SELECT status, count(*) FROM orders GROUP BY status;
      CREATE TRIGGER orders_counted_in AFTER INSERT ON orders BEGIN
        INSERT INTO order_counts (status, orders) VALUES (NEW.status, 1)
          ON CONFLICT (status) DO UPDATE SET orders = orders + 1;
      END;
      CREATE TRIGGER orders_counted_move AFTER UPDATE OF status ON orders
        WHEN OLD.status != NEW.status BEGIN
        UPDATE order_counts SET orders = orders - 1 WHERE status = OLD.status;
        INSERT INTO order_counts (status, orders) VALUES (NEW.status, 1)
          ON CONFLICT (status) DO UPDATE SET orders = orders + 1;
      END;
      CREATE TRIGGER orders_counted_out AFTER DELETE ON orders BEGIN
        UPDATE order_counts SET orders = orders - 1 WHERE status = OLD.status;
      END;
    )sql"},
    // The product's name on each line, so an order still reads after its product is retired
    // (issue 11). Lines from before are ''.
    {5, "product names on order lines", R"sql(
      ALTER TABLE order_lines ADD COLUMN name TEXT NOT NULL DEFAULT '';
    )sql"},
    // The refund checkout confirmed (payment.refunded) for a cancelled or returned order.
    {6, "refunds confirmed by checkout", R"sql(
      ALTER TABLE orders ADD COLUMN refund_amount INTEGER;
      ALTER TABLE orders ADD COLUMN refunded_at_ms INTEGER;
    )sql"},
};

constexpr std::string_view kOrderColumns =
    "SELECT id, member_id, payment_id, status, total, created_at_ms, updated_at_ms, on_hold, "
    "delivered_at_ms, refund_amount, refunded_at_ms FROM orders";

Order ReadOrderRow(const storage::Statement& s) {
  Order o;
  o.id = s.Int64(0);
  o.member_id = s.Int64(1);
  o.payment_id = s.Int64(2);
  o.status = ParseOrderStatus(s.TextView(3)).value_or(OrderStatus::kPaid);
  o.total = s.Int64(4);
  o.created_at = FromUnixMillis(s.Int64(5));
  o.updated_at = FromUnixMillis(s.Int64(6));
  o.on_hold = s.Int64(7) != 0;
  if (!s.IsNull(8)) o.delivered_at = FromUnixMillis(s.Int64(8));
  if (!s.IsNull(9)) {
    o.refund = Refund{RefundStatus::kRefunded, s.Int64(9), FromUnixMillis(s.Int64(10))};
  }
  return o;
}

void LoadLines(Database& db, Order& order) {
  auto& s = db.Cached(
      "SELECT product_id, quantity, price, name FROM order_lines WHERE order_id = ? "
      "ORDER BY product_id");
  s.BindInt64(1, order.id);
  while (s.Step()) order.lines.push_back({s.Int64(0), s.Int64(1), s.Int64(2), s.Text(3)});
  s.Reset();
}

void LoadHistoryAndNext(Database& db, Order& order) {
  auto& h = db.Cached(
      "SELECT status, at_ms, cause, kind, COALESCE(actor_id, 0) FROM order_history "
      "WHERE order_id = ? ORDER BY seq");
  h.BindInt64(1, order.id);
  while (h.Step()) {
    order.history.push_back({ParseOrderStatus(h.TextView(0)).value_or(OrderStatus::kPaid),
                             FromUnixMillis(h.Int64(1)), h.Text(2), h.Text(3), h.Int64(4)});
  }
  h.Reset();
  auto& n =
      db.Cached("SELECT from_status, to_status, due_at_ms FROM order_schedule WHERE order_id = ?");
  n.BindInt64(1, order.id);
  if (n.Step()) {
    order.next = PendingTransition{ParseOrderStatus(n.TextView(0)).value_or(OrderStatus::kPaid),
                                   ParseOrderStatus(n.TextView(1)).value_or(OrderStatus::kPaid),
                                   FromUnixMillis(n.Int64(2))};
  }
  n.Reset();
}

std::optional<Order> ReadOrder(Database& db, std::int64_t order_id, bool full) {
  static const std::string sql = std::string(kOrderColumns) + " WHERE id = ?";
  auto& s = db.Cached(sql);
  s.BindInt64(1, order_id);
  std::optional<Order> out;
  if (s.Step()) out = ReadOrderRow(s);
  s.Reset();
  if (!out) return out;
  LoadLines(db, *out);
  if (full) LoadHistoryAndNext(db, *out);
  return out;
}

// `actor_id` 0 = not an operator's action (stored as NULL).
void AppendHistory(Database& db, std::int64_t order_id, OrderStatus status, TimePoint at,
                   std::string_view cause, std::string_view kind, std::int64_t actor_id = 0) {
  auto& h = db.Cached(
      "INSERT INTO order_history (order_id, seq, status, at_ms, cause, kind, actor_id) "
      "SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, NULLIF(?6, 0) FROM order_history "
      "WHERE order_id = ?1");
  h.BindInt64(1, order_id)
      .BindText(2, OrderStatusName(status))
      .BindInt64(3, ToUnixMillis(at))
      .BindText(4, cause)
      .BindText(5, kind)
      .BindInt64(6, actor_id);
  h.Step();
  h.Reset();
}

// Replaces the order's scheduled step with the automatic step out of `status` (or none).
void ScheduleNext(Database& db, std::int64_t order_id, OrderStatus status, TimePoint from,
                  const LifecycleOptions& lifecycle) {
  const auto step = NextAutomatic(status, lifecycle);
  if (!step) {
    auto& del = db.Cached("DELETE FROM order_schedule WHERE order_id = ?");
    del.BindInt64(1, order_id);
    del.Step();
    del.Reset();
    return;
  }
  auto& up = db.Cached(
      "INSERT INTO order_schedule (order_id, from_status, to_status, due_at_ms) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (order_id) DO UPDATE SET from_status = ?2, "
      "to_status = ?3, due_at_ms = ?4");
  up.BindInt64(1, order_id)
      .BindText(2, OrderStatusName(status))
      .BindText(3, OrderStatusName(step->to))
      .BindInt64(4, ToUnixMillis(from + step->delay));
  up.Step();
  up.Reset();
}

std::string RefundEventPayload(const Order& order, OrderStatus status) {
  api::OrderReversed event{order.id,
                           order.payment_id,
                           order.member_id,
                           order.total,
                           std::string(OrderStatusName(status)),
                           {}};
  for (const OrderLine& l : order.lines) event.lines.push_back({l.product_id, l.quantity, l.price});
  return api::Encode(event);
}

// Who applies a transition: the scheduler may not move an order on hold; a member (cancel,
// return) and an operator (advance) may.
enum class Mover { kPerson, kScheduler };

// The one way an order changes status: guarded on `from` (and, for the scheduler, on the order not
// being on hold), with its history line, its next scheduled step and (for CANCELLED and RETURNED)
// the outbox event that makes checkout refund and restock. Returns false, changing nothing, when
// the guard fails. The guard alone makes it exactly-once: it holds whichever instance's
// transaction comes first, on any database.
bool ApplyTransition(Database& db, std::int64_t order_id, OrderStatus from, OrderStatus to,
                     TimePoint now, std::string_view cause, const LifecycleOptions& lifecycle,
                     std::int64_t actor_id = 0, Mover mover = Mover::kPerson) {
  auto& up = db.Cached(
      "UPDATE orders SET status = ?1, updated_at_ms = ?2, delivered_at_ms = CASE WHEN ?1 = "
      "'DELIVERED' THEN ?2 ELSE delivered_at_ms END WHERE id = ?3 AND status = ?4 "
      "AND (?5 = 0 OR on_hold = 0)");
  up.BindText(1, OrderStatusName(to))
      .BindInt64(2, ToUnixMillis(now))
      .BindInt64(3, order_id)
      .BindText(4, OrderStatusName(from))
      .BindInt64(5, mover == Mover::kScheduler ? 1 : 0);
  up.Step();
  up.Reset();
  if (db.Changes() == 0) return false;
  AppendHistory(db, order_id, to, now, cause, "transition", actor_id);
  ScheduleNext(db, order_id, to, now, lifecycle);
  if (to == OrderStatus::kCancelled || to == OrderStatus::kReturned) {
    const auto order = ReadOrder(db, order_id, false);
    const std::string_view topic =
        to == OrderStatus::kCancelled ? api::kOrderCancelled : api::kOrderReturned;
    events::sqlite_outbox::Append(db, topic, RefundEventPayload(*order, to), now);
  }
  return true;
}

// Creates the order of a paid purchase with its lines, its PAID history line and its first
// scheduled step; nothing when an order with this id exists (the same payment delivered again, or
// already created for a read before its event). True when created.
bool InsertPaidOrder(Database& db, const PaidOrderEvent& e, const LifecycleOptions& lifecycle) {
  auto& insert = db.Cached(
      "INSERT OR IGNORE INTO orders (id, member_id, payment_id, status, total, created_at_ms, "
      "updated_at_ms) VALUES (?, ?, ?, 'PAID', ?, ?, ?)");
  insert.BindInt64(1, e.order_id)
      .BindInt64(2, e.member_id)
      .BindInt64(3, e.payment_id)
      .BindInt64(4, e.total)
      .BindInt64(5, ToUnixMillis(e.paid_at))
      .BindInt64(6, ToUnixMillis(e.paid_at));
  insert.Step();
  insert.Reset();
  if (db.Changes() == 0) return false;
  for (const OrderLine& line : e.lines) {
    auto& l = db.Cached(
        "INSERT INTO order_lines (order_id, product_id, quantity, price, name) "
        "VALUES (?, ?, ?, ?, ?)");
    l.BindInt64(1, e.order_id)
        .BindInt64(2, line.product_id)
        .BindInt64(3, line.quantity)
        .BindInt64(4, line.price)
        .BindText(5, line.name);
    l.Step();
    l.Reset();
  }
  AppendHistory(db, e.order_id, OrderStatus::kPaid, e.paid_at, "payment captured", "transition");
  // Shipping is due relative to the payment, not to when the event happened to arrive.
  ScheduleNext(db, e.order_id, OrderStatus::kPaid, e.paid_at, lifecycle);
  return true;
}

}  // namespace

std::span<const storage::Migration> OrdersMigrations() {
  return kMigrations;
}

boost::asio::awaitable<Result<std::size_t>> SqliteOrderStore::RecordPaid(
    std::vector<PaidOrderEvent> events, TimePoint now) {
  auto job = [events = std::move(events), now,
              lifecycle = lifecycle_](Database& db) -> Result<std::size_t> {
    std::size_t created = 0;
    for (const PaidOrderEvent& e : events) {
      if (!events::sqlite_outbox::ClaimEvent(db, kOrderPaidConsumer, e.event_id, now)) continue;
      if (InsertPaidOrder(db, e, lifecycle)) ++created;
    }
    return created;
  };
  co_return co_await async::Write<std::size_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<bool>> SqliteOrderStore::RecordPaidNow(PaidOrderEvent event) {
  auto job = [event = std::move(event), lifecycle = lifecycle_](Database& db) -> Result<bool> {
    return InsertPaidOrder(db, event, lifecycle);
  };
  co_return co_await async::Write<bool>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::size_t>> SqliteOrderStore::RecordRefunds(
    std::vector<PaymentRefundedEvent> events, TimePoint now) {
  auto job = [events = std::move(events), now](Database& db) -> Result<std::size_t> {
    std::size_t changed = 0;
    for (const PaymentRefundedEvent& e : events) {
      if (!events::sqlite_outbox::ClaimEvent(db, kPaymentRefundedConsumer, e.event_id, now)) {
        continue;
      }
      auto& up = db.Cached(
          "UPDATE orders SET refund_amount = ?, refunded_at_ms = ? "
          "WHERE id = ? AND refund_amount IS NULL");
      up.BindInt64(1, e.amount).BindInt64(2, ToUnixMillis(e.refunded_at)).BindInt64(3, e.order_id);
      up.Step();
      up.Reset();
      changed += static_cast<std::size_t>(db.Changes());
    }
    return changed;
  };
  co_return co_await async::Write<std::size_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::size_t>> SqliteOrderStore::EnsureScheduled(TimePoint /*now*/) {
  auto job = [lifecycle = lifecycle_](Database& db) -> Result<std::size_t> {
    struct Missing {
      std::int64_t id;
      OrderStatus status;
      TimePoint since;
    };
    // Read inside the write transaction: an instance starting at the same time sees these rows
    // scheduled and finds nothing missing.
    std::vector<Missing> missing;
    auto s = db.Prepare(
        "SELECT o.id, o.status, COALESCE(o.delivered_at_ms, o.updated_at_ms) FROM orders o "
        "WHERE o.status NOT IN ('COMPLETED', 'CANCELLED', 'RETURNED') "
        "AND NOT EXISTS (SELECT 1 FROM order_schedule s WHERE s.order_id = o.id)");
    while (s.Step()) {
      missing.push_back({s.Int64(0), ParseOrderStatus(s.TextView(1)).value_or(OrderStatus::kPaid),
                         FromUnixMillis(s.Int64(2))});
    }
    for (const Missing& m : missing) ScheduleNext(db, m.id, m.status, m.since, lifecycle);
    return missing.size();
  };
  co_return co_await async::Write<std::size_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::vector<Order>>> SqliteOrderStore::ListForMember(
    std::int64_t member_id, std::int64_t before_id, std::size_t limit) {
  Database& db = readers_.ForThisThread();
  static const std::string sql =
      std::string(kOrderColumns) + " WHERE member_id = ? AND id < ? ORDER BY id DESC LIMIT ?";
  auto& s = db.Cached(sql);
  s.BindInt64(1, member_id)
      .BindInt64(2, before_id > 0 ? before_id : INT64_MAX)
      .BindInt64(3, static_cast<std::int64_t>(limit));
  std::vector<Order> out;
  while (s.Step()) out.push_back(ReadOrderRow(s));
  s.Reset();
  for (Order& o : out) LoadLines(db, o);
  co_return out;
}

boost::asio::awaitable<Result<std::optional<Order>>> SqliteOrderStore::Find(std::int64_t order_id) {
  co_return ReadOrder(readers_.ForThisThread(), order_id, true);
}

boost::asio::awaitable<Result<std::vector<Order>>> SqliteOrderStore::ListForAdmin(
    AdminOrderQuery query) {
  Database& db = readers_.ForThisThread();
  static const std::string sql =
      std::string(kOrderColumns) +
      " WHERE id < ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR EXISTS (SELECT 1 FROM "
      "order_lines l WHERE l.order_id = orders.id AND l.product_id = ?3)) ORDER BY id DESC LIMIT "
      "?4";
  // One member's orders: walked through orders_by_member, not the whole table by id.
  static const std::string by_member =
      std::string(kOrderColumns) +
      " WHERE member_id = ?5 AND id < ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR "
      "EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = orders.id AND l.product_id = ?3)) "
      "ORDER BY id DESC LIMIT ?4";
  auto& s = db.Cached(query.member_id ? by_member : sql);
  if (query.member_id) s.BindInt64(5, *query.member_id);
  s.BindInt64(1, query.before_id > 0 ? query.before_id : INT64_MAX);
  if (query.status) {
    s.BindText(2, OrderStatusName(*query.status));
  } else {
    s.BindNull(2);
  }
  if (query.product_id) {
    s.BindInt64(3, *query.product_id);
  } else {
    s.BindNull(3);
  }
  s.BindInt64(4, static_cast<std::int64_t>(query.limit));
  std::vector<Order> out;
  while (s.Step()) out.push_back(ReadOrderRow(s));
  s.Reset();
  for (Order& o : out) LoadLines(db, o);
  co_return out;
}

std::optional<std::int64_t> SqliteOrderStore::Count(const AdminOrderQuery& query) {
  if (query.product_id) return std::nullopt;  // would count the product's lines one by one
  Database& db = readers_.ForThisThread();
  // ?1 = the status or NULL. One member: their orders_by_member range; everyone: the kept counts.
  auto& s = query.member_id ? db.Cached(
                                  "SELECT count(*) FROM orders WHERE member_id = ?2 AND "
                                  "(?1 IS NULL OR status = ?1)")
                            : db.Cached(
                                  "SELECT COALESCE(SUM(orders), 0) FROM order_counts "
                                  "WHERE ?1 IS NULL OR status = ?1");
  if (query.status) {
    s.BindText(1, OrderStatusName(*query.status));
  } else {
    s.BindNull(1);
  }
  if (query.member_id) s.BindInt64(2, *query.member_id);
  std::int64_t n = 0;
  if (s.Step()) n = s.Int64(0);
  s.Reset();
  return n;
}

boost::asio::awaitable<Result<std::optional<std::int64_t>>> SqliteOrderStore::CountForAdmin(
    AdminOrderQuery query) {
  co_return Count(query);
}

boost::asio::awaitable<Result<std::int64_t>> SqliteOrderStore::CountForMember(
    std::int64_t member_id) {
  AdminOrderQuery query;
  query.member_id = member_id;
  co_return Count(query).value_or(0);
}

boost::asio::awaitable<Result<std::map<OrderStatus, StatusTally>>>
SqliteOrderStore::TallyForProduct(std::int64_t product_id) {
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT o.status, COUNT(*), SUM(l.quantity), SUM(l.quantity * l.price) FROM order_lines l "
      "JOIN orders o ON o.id = l.order_id WHERE l.product_id = ? GROUP BY o.status");
  s.BindInt64(1, product_id);
  std::map<OrderStatus, StatusTally> out;
  while (s.Step()) {
    if (auto status = ParseOrderStatus(s.TextView(0))) {
      out[*status] = StatusTally{s.Int64(1), s.Int64(2), s.Int64(3)};
    }
  }
  s.Reset();
  co_return out;
}

boost::asio::awaitable<Result<std::size_t>> SqliteOrderStore::ApplyDue(TimePoint now,
                                                                       std::size_t limit) {
  auto job = [now, limit, lifecycle = lifecycle_](Database& db) -> Result<std::size_t> {
    struct Due {
      std::int64_t order_id;
      OrderStatus from;
      OrderStatus to;
    };
    // Read inside the write transaction: a second instance's batch commits before or after this
    // one, never in between, so a step it applied is no longer due here (and the guard of
    // ApplyTransition would skip it if it were).
    std::vector<Due> due;
    due.reserve(limit);
    auto& s = db.Cached(
        "SELECT s.order_id, s.from_status, s.to_status FROM order_schedule s "
        "JOIN orders o ON o.id = s.order_id WHERE s.due_at_ms <= ? AND o.on_hold = 0 "
        "ORDER BY s.due_at_ms LIMIT ?");
    s.BindInt64(1, ToUnixMillis(now)).BindInt64(2, static_cast<std::int64_t>(limit));
    while (s.Step()) {
      auto from = ParseOrderStatus(s.TextView(1));
      auto to = ParseOrderStatus(s.TextView(2));
      if (from && to) due.push_back({s.Int64(0), *from, *to});
    }
    s.Reset();
    std::size_t applied = 0;
    for (const Due& d : due) {
      if (ApplyTransition(db, d.order_id, d.from, d.to, now, ScheduledCause(d.to), lifecycle, 0,
                          Mover::kScheduler)) {
        ++applied;
        continue;
      }
      // The order left `from` without replacing its schedule (cannot happen through this store,
      // but a stale row must never be retried forever). An order put on hold keeps its step.
      auto& del = db.Cached(
          "DELETE FROM order_schedule WHERE order_id = ?1 AND from_status = ?2 AND NOT EXISTS "
          "(SELECT 1 FROM orders WHERE id = ?1 AND status = ?2)");
      del.BindInt64(1, d.order_id).BindText(2, OrderStatusName(d.from));
      del.Step();
      del.Reset();
    }
    return applied;
  };
  co_return co_await async::Write<std::size_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Order>> SqliteOrderStore::Cancel(std::int64_t order_id,
                                                               std::int64_t member_id,
                                                               TimePoint now) {
  auto job = [order_id, member_id, now, lifecycle = lifecycle_](Database& db) -> Result<Order> {
    auto order = ReadOrder(db, order_id, false);
    if (!order || order->member_id != member_id) return MakeError(Errc::kNotFound, "no such order");
    if (order->status != OrderStatus::kPaid ||
        !ApplyTransition(db, order_id, OrderStatus::kPaid, OrderStatus::kCancelled, now,
                         "cancelled by the member", lifecycle)) {
      return MakeError(Errc::kOrderNotCancellable,
                       std::string("only an order that has not shipped can be cancelled; it is ") +
                           std::string(OrderStatusName(order->status)));
    }
    return *ReadOrder(db, order_id, true);
  };
  co_return co_await async::Write<Order>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Order>> SqliteOrderStore::RequestReturn(std::int64_t order_id,
                                                                      std::int64_t member_id,
                                                                      TimePoint now) {
  auto job = [order_id, member_id, now, lifecycle = lifecycle_](Database& db) -> Result<Order> {
    auto order = ReadOrder(db, order_id, false);
    if (!order || order->member_id != member_id) return MakeError(Errc::kNotFound, "no such order");
    const bool window_open = order->status == OrderStatus::kDelivered && order->delivered_at &&
                             now < *order->delivered_at + lifecycle.return_window;
    if (order->status == OrderStatus::kCompleted ||
        (order->status == OrderStatus::kDelivered && !window_open)) {
      return MakeError(Errc::kReturnWindowClosed, "the return window of this order has closed");
    }
    if (order->status != OrderStatus::kDelivered ||
        !ApplyTransition(db, order_id, OrderStatus::kDelivered, OrderStatus::kReturnRequested, now,
                         "return requested by the member", lifecycle)) {
      return MakeError(Errc::kOrderNotReturnable,
                       std::string("only a delivered order can be returned; it is ") +
                           std::string(OrderStatusName(order->status)));
    }
    return *ReadOrder(db, order_id, true);
  };
  co_return co_await async::Write<Order>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Order>> SqliteOrderStore::Advance(std::int64_t order_id,
                                                                std::string reason,
                                                                std::int64_t actor_id,
                                                                TimePoint now) {
  auto job = [order_id, reason = std::move(reason), actor_id, now,
              lifecycle = lifecycle_](Database& db) -> Result<Order> {
    auto order = ReadOrder(db, order_id, false);
    if (!order) return MakeError(Errc::kNotFound, "no such order");
    const auto step = NextAutomatic(order->status, lifecycle);
    if (!step) return MakeError(Errc::kConflict, "the order is final; there is no next state");
    if (!ApplyTransition(db, order_id, order->status, step->to, now, "operator: " + reason,
                         lifecycle, actor_id)) {
      return MakeError(Errc::kConflict, "the order changed meanwhile; look again");
    }
    return *ReadOrder(db, order_id, true);
  };
  co_return co_await async::Write<Order>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Order>> SqliteOrderStore::SetHold(std::int64_t order_id, bool hold,
                                                                std::string reason,
                                                                std::int64_t actor_id,
                                                                TimePoint now) {
  auto job = [order_id, hold, reason = std::move(reason), actor_id,
              now](Database& db) -> Result<Order> {
    auto order = ReadOrder(db, order_id, false);
    if (!order) return MakeError(Errc::kNotFound, "no such order");
    if (IsFinal(order->status)) return MakeError(Errc::kConflict, "the order is final");
    const Error already = MakeError(
        Errc::kConflict, hold ? "the order is already on hold" : "the order is not on hold");
    if (order->on_hold == hold) return already;
    // Guarded like a transition: of two operators at once, one changes it.
    auto& up = db.Cached(
        "UPDATE orders SET on_hold = ?1, updated_at_ms = ?2 WHERE id = ?3 AND on_hold != ?1");
    up.BindInt64(1, hold ? 1 : 0).BindInt64(2, ToUnixMillis(now)).BindInt64(3, order_id);
    up.Step();
    up.Reset();
    if (db.Changes() == 0) return already;
    AppendHistory(db, order_id, order->status, now, "operator: " + reason,
                  hold ? "hold" : "release", actor_id);
    return *ReadOrder(db, order_id, true);
  };
  co_return co_await async::Write<Order>(writer_, std::move(job));
}

}  // namespace rocketmart::orders

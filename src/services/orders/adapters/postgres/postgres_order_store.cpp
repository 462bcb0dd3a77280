#include "services/orders/adapters/postgres/postgres_order_store.hpp"

#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/migrations.hpp"
#include "infra/postgres/transaction.hpp"
#include "services/orders/adapters/consumers.hpp"
#include "services/orders/api/events.hpp"

namespace rocketmart::orders {

namespace asio = boost::asio;
using asio::awaitable;
using postgres::Connection;
using postgres::MakeParams;
using postgres::Params;
using postgres::Rows;

namespace {

// The SQLite schema's versions as one (see sqlite_order_store.cpp for each column). No kept
// counts per status: on PostgreSQL a counter row per status is a hot row every transition of
// every order locks (two schedulers would serialize, and deadlock, on them); the admin total is a
// count over the orders_by_status index instead.
constexpr postgres::Migration kMigrations[] = {
    {1, "orders", R"sql(
      CREATE TABLE orders (
        id              bigint  PRIMARY KEY,
        member_id       bigint  NOT NULL,
        payment_id      bigint  NOT NULL UNIQUE,
        status          text    NOT NULL,
        total           bigint  NOT NULL,
        created_at_ms   bigint  NOT NULL,
        updated_at_ms   bigint  NOT NULL,
        on_hold         boolean NOT NULL DEFAULT false,
        delivered_at_ms bigint,
        refund_amount   bigint,
        refunded_at_ms  bigint
      );
      CREATE INDEX orders_by_member ON orders (member_id, id DESC);
      CREATE INDEX orders_by_status ON orders (status, id DESC);
      CREATE TABLE order_lines (
        order_id   bigint NOT NULL REFERENCES orders (id),
        product_id bigint NOT NULL,
        quantity   bigint NOT NULL CHECK (quantity > 0),
        price      bigint NOT NULL CHECK (price >= 0),
        name       text   NOT NULL DEFAULT '',
        PRIMARY KEY (order_id, product_id)
      );
      CREATE INDEX order_lines_by_product ON order_lines (product_id, order_id);
      CREATE TABLE order_history (
        order_id bigint NOT NULL REFERENCES orders (id),
        seq      integer NOT NULL,
        status   text   NOT NULL,
        at_ms    bigint NOT NULL,
        cause    text   NOT NULL,
        kind     text   NOT NULL DEFAULT 'transition',
        actor_id bigint,
        PRIMARY KEY (order_id, seq)
      );
      CREATE TABLE order_schedule (
        order_id    bigint PRIMARY KEY REFERENCES orders (id),
        from_status text   NOT NULL,
        to_status   text   NOT NULL,
        due_at_ms   bigint NOT NULL
      );
      CREATE INDEX order_schedule_by_due ON order_schedule (due_at_ms);
    )sql"},
};

constexpr std::string_view kOrderColumns =
    "SELECT id, member_id, payment_id, status, total, created_at_ms, updated_at_ms, on_hold, "
    "delivered_at_ms, refund_amount, refunded_at_ms FROM orders";

OrderStatus StatusAt(const Rows& r, int row, int col) {
  return ParseOrderStatus(r.Text(row, col)).value_or(OrderStatus::kPaid);
}

Order ReadOrderRow(const Rows& r, int i) {
  Order o;
  o.id = r.Int64(i, 0);
  o.member_id = r.Int64(i, 1);
  o.payment_id = r.Int64(i, 2);
  o.status = StatusAt(r, i, 3);
  o.total = r.Int64(i, 4);
  o.created_at = FromUnixMillis(r.Int64(i, 5));
  o.updated_at = FromUnixMillis(r.Int64(i, 6));
  o.on_hold = r.Bool(i, 7);
  if (!r.IsNull(i, 8)) o.delivered_at = FromUnixMillis(r.Int64(i, 8));
  if (!r.IsNull(i, 9)) {
    o.refund = Refund{RefundStatus::kRefunded, r.Int64(i, 9), FromUnixMillis(r.Int64(i, 10))};
  }
  return o;
}

std::vector<Order> ReadOrderRows(const Rows& r) {
  std::vector<Order> out;
  out.reserve(static_cast<std::size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadOrderRow(r, i));
  return out;
}

awaitable<Status> LoadLines(Connection& c, Order& order) {
  auto params = MakeParams(order.id);
  auto rows = co_await c.Query(
      "SELECT product_id, quantity, price, name FROM order_lines WHERE order_id = $1 "
      "ORDER BY product_id",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  for (int i = 0; i < rows->size(); ++i) {
    order.lines.push_back(
        {rows->Int64(i, 0), rows->Int64(i, 1), rows->Int64(i, 2), std::string(rows->Text(i, 3))});
  }
  co_return Ok();
}

awaitable<Status> LoadAllLines(Connection& c, std::vector<Order>& orders) {
  for (Order& o : orders) {
    auto loaded = co_await LoadLines(c, o);
    if (!loaded.ok()) co_return loaded;
  }
  co_return Ok();
}

awaitable<Status> LoadHistoryAndNext(Connection& c, Order& order) {
  auto params = MakeParams(order.id);
  auto history_params = params;  // named: no temporary copy inside co_await (ADR 0003)
  auto history = co_await c.Query(
      "SELECT status, at_ms, cause, kind, COALESCE(actor_id, 0) FROM order_history "
      "WHERE order_id = $1 ORDER BY seq",
      std::move(history_params));
  if (!history.ok()) co_return std::move(history).error();
  for (int i = 0; i < history->size(); ++i) {
    order.history.push_back({StatusAt(*history, i, 0), FromUnixMillis(history->Int64(i, 1)),
                             std::string(history->Text(i, 2)), std::string(history->Text(i, 3)),
                             history->Int64(i, 4)});
  }
  auto next = co_await c.Query(
      "SELECT from_status, to_status, due_at_ms FROM order_schedule WHERE order_id = $1",
      std::move(params));
  if (!next.ok()) co_return std::move(next).error();
  if (!next->empty()) {
    order.next = PendingTransition{StatusAt(*next, 0, 0), StatusAt(*next, 0, 1),
                                   FromUnixMillis(next->Int64(0, 2))};
  }
  co_return Ok();
}

// The order (with lines; with history and next step when `full`), its row locked for update when
// `lock`.
awaitable<Result<std::optional<Order>>> ReadOrder(Connection& c, std::int64_t order_id, bool full,
                                                  bool lock) {
  static const std::string plain = std::string(kOrderColumns) + " WHERE id = $1";
  static const std::string locked = plain + " FOR UPDATE";
  auto params = MakeParams(order_id);
  auto rows = co_await c.Query(lock ? locked : plain, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<Order> out;
  if (rows->empty()) co_return out;
  out = ReadOrderRow(*rows, 0);
  auto lines = co_await LoadLines(c, *out);
  if (!lines.ok()) co_return std::move(lines).error();
  if (full) {
    auto rest = co_await LoadHistoryAndNext(c, *out);
    if (!rest.ok()) co_return std::move(rest).error();
  }
  co_return out;
}

// A member's own order, its row locked (kNotFound for a missing or another member's order).
awaitable<Result<Order>> LockOwnOrder(Connection& c, std::int64_t order_id,
                                      std::int64_t member_id) {
  auto order = co_await ReadOrder(c, order_id, false, true);
  if (!order.ok()) co_return std::move(order).error();
  if (!*order || (*order)->member_id != member_id) {
    co_return MakeError(Errc::kNotFound, "no such order");
  }
  co_return std::move(**order);
}

// The order as a change left it (inside the change's transaction), for the caller's answer.
awaitable<Result<Order>> Reread(Connection& c, std::int64_t order_id) {
  auto after = co_await ReadOrder(c, order_id, true, false);
  if (!after.ok()) co_return std::move(after).error();
  co_return std::move(**after);
}

// `actor_id` 0 = not an operator's action (stored as NULL).
awaitable<Status> AppendHistory(Connection& c, std::int64_t order_id, OrderStatus status,
                                TimePoint at, std::string_view cause, std::string_view kind,
                                std::int64_t actor_id) {
  auto params = MakeParams(order_id, std::string(OrderStatusName(status)), ToUnixMillis(at), cause,
                           kind, actor_id);
  auto r = co_await c.Command(
      "INSERT INTO order_history (order_id, seq, status, at_ms, cause, kind, actor_id) "
      "SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, NULLIF($6::bigint, 0) FROM "
      "order_history "
      "WHERE order_id = $1",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

// Replaces the order's scheduled step with the automatic step out of `status` (or none).
awaitable<Status> ScheduleNext(Connection& c, std::int64_t order_id, OrderStatus status,
                               TimePoint from, const LifecycleOptions& lifecycle) {
  const auto step = NextAutomatic(status, lifecycle);
  if (!step) {
    auto params = MakeParams(order_id);
    auto r =
        co_await c.Command("DELETE FROM order_schedule WHERE order_id = $1", std::move(params));
    if (!r.ok()) co_return std::move(r).error();
    co_return Ok();
  }
  auto params =
      MakeParams(order_id, std::string(OrderStatusName(status)),
                 std::string(OrderStatusName(step->to)), ToUnixMillis(from + step->delay));
  auto r = co_await c.Command(
      "INSERT INTO order_schedule (order_id, from_status, to_status, due_at_ms) "
      "VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO UPDATE SET from_status = $2, "
      "to_status = $3, due_at_ms = $4",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
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

enum class Mover { kPerson, kScheduler };

struct Transition {
  std::int64_t order_id = 0;
  OrderStatus from = OrderStatus::kPaid;
  OrderStatus to = OrderStatus::kPaid;
  TimePoint now;
  std::string cause;
  std::int64_t actor_id = 0;
  Mover mover = Mover::kPerson;
};

// The one way an order changes status, guarded on `from` (and, for the scheduler, on the order not
// being on hold), with its history line, its next step and (CANCELLED, RETURNED) its outbox event.
// False, changing nothing, when the guard fails.
awaitable<Result<bool>> ApplyTransition(Connection& c, const Transition& t,
                                        const LifecycleOptions& lifecycle) {
  auto params = MakeParams(std::string(OrderStatusName(t.to)), ToUnixMillis(t.now), t.order_id,
                           std::string(OrderStatusName(t.from)), t.mover == Mover::kScheduler);
  auto updated = co_await c.Command(
      "UPDATE orders SET status = $1, updated_at_ms = $2, delivered_at_ms = CASE WHEN $1 = "
      "'DELIVERED' THEN $2 ELSE delivered_at_ms END WHERE id = $3 AND status = $4 "
      "AND (NOT $5::boolean OR NOT on_hold)",
      std::move(params));
  if (!updated.ok()) co_return std::move(updated).error();
  if (*updated == 0) co_return false;
  auto history =
      co_await AppendHistory(c, t.order_id, t.to, t.now, t.cause, "transition", t.actor_id);
  if (!history.ok()) co_return std::move(history).error();
  auto scheduled = co_await ScheduleNext(c, t.order_id, t.to, t.now, lifecycle);
  if (!scheduled.ok()) co_return std::move(scheduled).error();
  if (t.to == OrderStatus::kCancelled || t.to == OrderStatus::kReturned) {
    auto order = co_await ReadOrder(c, t.order_id, false, false);
    if (!order.ok()) co_return std::move(order).error();
    const std::string_view topic =
        t.to == OrderStatus::kCancelled ? api::kOrderCancelled : api::kOrderReturned;
    const std::string payload = RefundEventPayload(**order, t.to);
    auto appended = co_await events::postgres_outbox::Append(c, topic, payload, t.now);
    if (!appended.ok()) co_return std::move(appended).error();
  }
  co_return true;
}

// A member's transition (cancel, return request): `refusal` unless the order is in `t.from` and
// the guarded change applies; the order as it now is otherwise.
awaitable<Result<Order>> MemberTransition(Connection& c, const Order& order, const Transition& t,
                                          const Error& refusal, const LifecycleOptions& lifecycle) {
  if (order.status != t.from) co_return refusal;
  auto applied = co_await ApplyTransition(c, t, lifecycle);
  if (!applied.ok()) co_return std::move(applied).error();
  if (!*applied) co_return refusal;
  co_return co_await Reread(c, t.order_id);
}

// Creates the order of a paid purchase with its lines, PAID history line and first step; nothing
// when an order with this id or payment exists. True when created.
awaitable<Result<bool>> InsertPaidOrder(Connection& c, const PaidOrderEvent& e,
                                        const LifecycleOptions& lifecycle) {
  auto params = MakeParams(e.order_id, e.member_id, e.payment_id, e.total, ToUnixMillis(e.paid_at));
  auto inserted = co_await c.Command(
      "INSERT INTO orders (id, member_id, payment_id, status, total, created_at_ms, "
      "updated_at_ms) VALUES ($1, $2, $3, 'PAID', $4, $5, $5) ON CONFLICT DO NOTHING",
      std::move(params));
  if (!inserted.ok()) co_return std::move(inserted).error();
  if (*inserted == 0) co_return false;
  for (const OrderLine& line : e.lines) {
    auto l = MakeParams(e.order_id, line.product_id, line.quantity, line.price, line.name);
    auto added = co_await c.Command(
        "INSERT INTO order_lines (order_id, product_id, quantity, price, name) "
        "VALUES ($1, $2, $3, $4, $5)",
        std::move(l));
    if (!added.ok()) co_return std::move(added).error();
  }
  auto history = co_await AppendHistory(c, e.order_id, OrderStatus::kPaid, e.paid_at,
                                        "payment captured", "transition", 0);
  if (!history.ok()) co_return std::move(history).error();
  // Shipping is due relative to the payment, not to when the event happened to arrive.
  auto scheduled = co_await ScheduleNext(c, e.order_id, OrderStatus::kPaid, e.paid_at, lifecycle);
  if (!scheduled.ok()) co_return std::move(scheduled).error();
  co_return true;
}

// `claimed`: false when the consumer had already processed the event.
awaitable<Result<bool>> Claim(Connection& c, std::string_view consumer, const std::string& event_id,
                              TimePoint now) {
  co_return co_await events::postgres_outbox::ClaimEvent(c, consumer, event_id, now);
}

}  // namespace

awaitable<Status> MigratePostgresOrders(Connection& connection) {
  auto events = co_await events::postgres_outbox::Migrate(connection);
  if (!events.ok()) co_return events;
  co_return co_await postgres::Migrate(connection, "orders", kMigrations);
}

awaitable<Result<std::size_t>> PostgresOrderStore::RecordPaid(std::vector<PaidOrderEvent> events,
                                                              TimePoint now) {
  auto work = [&events, now, this](Connection& c) -> awaitable<Result<std::size_t>> {
    std::size_t created = 0;
    for (const PaidOrderEvent& e : events) {
      auto claimed = co_await Claim(c, kOrderPaidConsumer, e.event_id, now);
      if (!claimed.ok()) co_return std::move(claimed).error();
      if (!*claimed) continue;
      auto inserted = co_await InsertPaidOrder(c, e, lifecycle_);
      if (!inserted.ok()) co_return std::move(inserted).error();
      if (*inserted) ++created;
    }
    co_return created;
  };
  co_return co_await postgres::Transact<std::size_t>(pool_, std::move(work));
}

awaitable<Result<bool>> PostgresOrderStore::RecordPaidNow(PaidOrderEvent event) {
  auto work = [&event, this](Connection& c) -> awaitable<Result<bool>> {
    co_return co_await InsertPaidOrder(c, event, lifecycle_);
  };
  co_return co_await postgres::Transact<bool>(pool_, std::move(work));
}

awaitable<Result<std::size_t>> PostgresOrderStore::RecordRefunds(
    std::vector<PaymentRefundedEvent> events, TimePoint now) {
  auto work = [&events, now](Connection& c) -> awaitable<Result<std::size_t>> {
    std::size_t changed = 0;
    for (const PaymentRefundedEvent& e : events) {
      auto claimed = co_await Claim(c, kPaymentRefundedConsumer, e.event_id, now);
      if (!claimed.ok()) co_return std::move(claimed).error();
      if (!*claimed) continue;
      auto params = MakeParams(e.amount, ToUnixMillis(e.refunded_at), e.order_id);
      auto updated = co_await c.Command(
          "UPDATE orders SET refund_amount = $1, refunded_at_ms = $2 "
          "WHERE id = $3 AND refund_amount IS NULL",
          std::move(params));
      if (!updated.ok()) co_return std::move(updated).error();
      changed += static_cast<std::size_t>(*updated);
    }
    co_return changed;
  };
  co_return co_await postgres::Transact<std::size_t>(pool_, std::move(work));
}

awaitable<Result<std::size_t>> PostgresOrderStore::EnsureScheduled(TimePoint /*now*/) {
  auto work = [this](Connection& c) -> awaitable<Result<std::size_t>> {
    // Instances starting together take turns: the second finds everything scheduled.
    auto locked = co_await c.Query(
        "SELECT pg_advisory_xact_lock(hashtextextended('orders.ensure_scheduled', 0))");
    if (!locked.ok()) co_return std::move(locked).error();
    auto rows = co_await c.Query(
        "SELECT o.id, o.status, COALESCE(o.delivered_at_ms, o.updated_at_ms) FROM orders o "
        "WHERE o.status NOT IN ('COMPLETED', 'CANCELLED', 'RETURNED') "
        "AND NOT EXISTS (SELECT 1 FROM order_schedule s WHERE s.order_id = o.id)");
    if (!rows.ok()) co_return std::move(rows).error();
    for (int i = 0; i < rows->size(); ++i) {
      auto scheduled = co_await ScheduleNext(c, rows->Int64(i, 0), StatusAt(*rows, i, 1),
                                             FromUnixMillis(rows->Int64(i, 2)), lifecycle_);
      if (!scheduled.ok()) co_return std::move(scheduled).error();
    }
    co_return static_cast<std::size_t>(rows->size());
  };
  co_return co_await postgres::Transact<std::size_t>(pool_, std::move(work));
}

awaitable<Result<std::vector<Order>>> PostgresOrderStore::ListForMember(std::int64_t member_id,
                                                                        std::int64_t before_id,
                                                                        std::size_t limit) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  static const std::string sql =
      std::string(kOrderColumns) + " WHERE member_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
  auto params = MakeParams(member_id, before_id > 0 ? before_id : INT64_MAX,
                           static_cast<std::int64_t>(limit));
  auto rows = co_await (*lease)->Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<Order> out = ReadOrderRows(*rows);
  auto lines = co_await LoadAllLines(**lease, out);
  if (!lines.ok()) co_return std::move(lines).error();
  co_return out;
}

awaitable<Result<std::optional<Order>>> PostgresOrderStore::Find(std::int64_t order_id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  co_return co_await ReadOrder(**lease, order_id, true, false);
}

awaitable<Result<std::vector<Order>>> PostgresOrderStore::ListForAdmin(AdminOrderQuery query) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Params params;
  params.Add(query.before_id > 0 ? query.before_id : INT64_MAX);
  if (query.status) {
    params.Add(std::string(OrderStatusName(*query.status)));
  } else {
    params.AddNull();
  }
  params.Add(query.product_id).Add(static_cast<std::int64_t>(query.limit)).Add(query.member_id);
  static const std::string sql =
      std::string(kOrderColumns) +
      " WHERE id < $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR EXISTS "
      "(SELECT 1 FROM order_lines l WHERE l.order_id = orders.id AND l.product_id = $3)) "
      "AND ($5::bigint IS NULL OR member_id = $5) ORDER BY id DESC LIMIT $4";
  auto rows = co_await (*lease)->Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<Order> out = ReadOrderRows(*rows);
  auto lines = co_await LoadAllLines(**lease, out);
  if (!lines.ok()) co_return std::move(lines).error();
  co_return out;
}

awaitable<Result<std::optional<std::int64_t>>> PostgresOrderStore::CountForAdmin(
    AdminOrderQuery query) {
  if (query.product_id) co_return std::optional<std::int64_t>{};
  Params params;
  if (query.status) {
    params.Add(std::string(OrderStatusName(*query.status)));
  } else {
    params.AddNull();
  }
  params.Add(query.member_id);
  auto rows = co_await pool_.Query(
      "SELECT count(*) FROM orders WHERE ($1::text IS NULL OR status = $1) "
      "AND ($2::bigint IS NULL OR member_id = $2)",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return std::optional<std::int64_t>(rows->Int64(0, 0));
}

awaitable<Result<std::int64_t>> PostgresOrderStore::CountForMember(std::int64_t member_id) {
  AdminOrderQuery query;
  query.member_id = member_id;
  auto counted = co_await CountForAdmin(std::move(query));
  if (!counted.ok()) co_return std::move(counted).error();
  co_return counted->value_or(0);
}

awaitable<Result<std::map<OrderStatus, StatusTally>>> PostgresOrderStore::TallyForProduct(
    std::int64_t product_id) {
  auto params = MakeParams(product_id);
  auto rows = co_await pool_.Query(
      "SELECT o.status, count(*), sum(l.quantity), sum(l.quantity * l.price) FROM order_lines l "
      "JOIN orders o ON o.id = l.order_id WHERE l.product_id = $1 GROUP BY o.status",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::map<OrderStatus, StatusTally> out;
  for (int i = 0; i < rows->size(); ++i) {
    if (auto status = ParseOrderStatus(rows->Text(i, 0))) {
      out[*status] = StatusTally{rows->Int64(i, 1), rows->Int64(i, 2), rows->Int64(i, 3)};
    }
  }
  co_return out;
}

awaitable<Result<std::size_t>> PostgresOrderStore::ApplyDue(TimePoint now, std::size_t limit) {
  auto work = [now, limit, this](Connection& c) -> awaitable<Result<std::size_t>> {
    // The claim: due steps of orders not on hold, both rows locked; rows another scheduler (or a
    // member's cancel) holds are skipped, not waited for, and are no longer due once it commits.
    auto params = MakeParams(ToUnixMillis(now), static_cast<std::int64_t>(limit));
    auto due = co_await c.Query(
        "SELECT s.order_id, s.from_status, s.to_status FROM order_schedule s "
        "JOIN orders o ON o.id = s.order_id WHERE s.due_at_ms <= $1 AND NOT o.on_hold "
        "ORDER BY s.due_at_ms LIMIT $2 FOR UPDATE OF s, o SKIP LOCKED",
        std::move(params));
    if (!due.ok()) co_return std::move(due).error();
    std::size_t applied = 0;
    for (int i = 0; i < due->size(); ++i) {
      auto from = ParseOrderStatus(due->Text(i, 1));
      auto to = ParseOrderStatus(due->Text(i, 2));
      if (!from || !to) continue;
      Transition t{due->Int64(i, 0), *from, *to, now, std::string(ScheduledCause(*to)), 0,
                   Mover::kScheduler};
      auto moved = co_await ApplyTransition(c, t, lifecycle_);
      if (!moved.ok()) co_return std::move(moved).error();
      if (*moved) {
        ++applied;
        continue;
      }
      // The order left `from` without replacing its schedule: a stale row is never retried.
      auto stale = MakeParams(t.order_id, std::string(OrderStatusName(t.from)));
      auto removed = co_await c.Command(
          "DELETE FROM order_schedule WHERE order_id = $1 AND from_status = $2 AND NOT EXISTS "
          "(SELECT 1 FROM orders WHERE id = $1 AND status = $2)",
          std::move(stale));
      if (!removed.ok()) co_return std::move(removed).error();
    }
    co_return applied;
  };
  co_return co_await postgres::Transact<std::size_t>(pool_, std::move(work));
}

awaitable<Result<Order>> PostgresOrderStore::Cancel(std::int64_t order_id, std::int64_t member_id,
                                                    TimePoint now) {
  auto work = [order_id, member_id, now, this](Connection& c) -> awaitable<Result<Order>> {
    auto order = co_await LockOwnOrder(c, order_id, member_id);
    if (!order.ok()) co_return std::move(order).error();
    const Error refusal =
        MakeError(Errc::kOrderNotCancellable,
                  std::string("only an order that has not shipped can be cancelled; it is ") +
                      std::string(OrderStatusName(order->status)));
    const Transition t{order_id, OrderStatus::kPaid, OrderStatus::kCancelled, now,
                       "cancelled by the member"};
    co_return co_await MemberTransition(c, *order, t, refusal, lifecycle_);
  };
  co_return co_await postgres::Transact<Order>(pool_, std::move(work));
}

awaitable<Result<Order>> PostgresOrderStore::RequestReturn(std::int64_t order_id,
                                                           std::int64_t member_id, TimePoint now) {
  auto work = [order_id, member_id, now, this](Connection& c) -> awaitable<Result<Order>> {
    auto order = co_await LockOwnOrder(c, order_id, member_id);
    if (!order.ok()) co_return std::move(order).error();
    const Order& o = *order;
    const bool window_open = o.status == OrderStatus::kDelivered && o.delivered_at &&
                             now < *o.delivered_at + lifecycle_.return_window;
    if (o.status == OrderStatus::kCompleted ||
        (o.status == OrderStatus::kDelivered && !window_open)) {
      co_return MakeError(Errc::kReturnWindowClosed, "the return window of this order has closed");
    }
    const Error refusal = MakeError(Errc::kOrderNotReturnable,
                                    std::string("only a delivered order can be returned; it is ") +
                                        std::string(OrderStatusName(o.status)));
    const Transition t{order_id, OrderStatus::kDelivered, OrderStatus::kReturnRequested, now,
                       "return requested by the member"};
    co_return co_await MemberTransition(c, o, t, refusal, lifecycle_);
  };
  co_return co_await postgres::Transact<Order>(pool_, std::move(work));
}

awaitable<Result<Order>> PostgresOrderStore::Advance(std::int64_t order_id, std::string reason,
                                                     std::int64_t actor_id, TimePoint now) {
  auto work = [order_id, &reason, actor_id, now, this](Connection& c) -> awaitable<Result<Order>> {
    auto order = co_await ReadOrder(c, order_id, false, true);
    if (!order.ok()) co_return std::move(order).error();
    if (!*order) co_return MakeError(Errc::kNotFound, "no such order");
    const auto step = NextAutomatic((*order)->status, lifecycle_);
    if (!step) co_return MakeError(Errc::kConflict, "the order is final; there is no next state");
    const Transition t{order_id, (*order)->status, step->to, now, "operator: " + reason, actor_id};
    auto applied = co_await ApplyTransition(c, t, lifecycle_);
    if (!applied.ok()) co_return std::move(applied).error();
    if (!*applied) co_return MakeError(Errc::kConflict, "the order changed meanwhile; look again");
    co_return co_await Reread(c, order_id);
  };
  co_return co_await postgres::Transact<Order>(pool_, std::move(work));
}

awaitable<Result<Order>> PostgresOrderStore::SetHold(std::int64_t order_id, bool hold,
                                                     std::string reason, std::int64_t actor_id,
                                                     TimePoint now) {
  auto work = [order_id, hold, &reason, actor_id, now](Connection& c) -> awaitable<Result<Order>> {
    auto order = co_await ReadOrder(c, order_id, false, true);
    if (!order.ok()) co_return std::move(order).error();
    if (!*order) co_return MakeError(Errc::kNotFound, "no such order");
    if (IsFinal((*order)->status)) co_return MakeError(Errc::kConflict, "the order is final");
    if ((*order)->on_hold == hold) {
      co_return MakeError(Errc::kConflict,
                          hold ? "the order is already on hold" : "the order is not on hold");
    }
    // Guarded like a transition (the row lock above already orders two operators).
    auto params = MakeParams(hold, ToUnixMillis(now), order_id);
    auto updated = co_await c.Command(
        "UPDATE orders SET on_hold = $1, updated_at_ms = $2 WHERE id = $3 AND on_hold <> $1",
        std::move(params));
    if (!updated.ok()) co_return std::move(updated).error();
    if (*updated == 0) {
      co_return MakeError(Errc::kConflict,
                          hold ? "the order is already on hold" : "the order is not on hold");
    }
    const std::string cause = "operator: " + reason;
    auto history = co_await AppendHistory(c, order_id, (*order)->status, now, cause,
                                          hold ? "hold" : "release", actor_id);
    if (!history.ok()) co_return std::move(history).error();
    co_return co_await Reread(c, order_id);
  };
  co_return co_await postgres::Transact<Order>(pool_, std::move(work));
}

}  // namespace rocketmart::orders

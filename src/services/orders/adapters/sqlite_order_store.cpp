#include "services/orders/adapters/sqlite_order_store.hpp"

#include "infra/storage/outbox.hpp"

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
};

Order ReadOrderRow(const storage::Statement& s) {
  Order o;
  o.id = s.Int64(0);
  o.member_id = s.Int64(1);
  o.payment_id = s.Int64(2);
  o.status = ParseOrderStatus(s.TextView(3)).value_or(OrderStatus::kPaid);
  o.total = s.Int64(4);
  o.created_at = FromUnixMillis(s.Int64(5));
  o.updated_at = FromUnixMillis(s.Int64(6));
  return o;
}

void LoadLines(Database& db, Order& order) {
  auto& s = db.Cached(
      "SELECT product_id, quantity, price FROM order_lines WHERE order_id = ? ORDER BY product_id");
  s.BindInt64(1, order.id);
  while (s.Step()) order.lines.push_back({s.Int64(0), s.Int64(1), s.Int64(2)});
  s.Reset();
}

}  // namespace

std::span<const storage::Migration> OrdersMigrations() {
  return kMigrations;
}

std::size_t SqliteOrderStore::RecordPaid(std::span<const PaidOrderEvent> events, TimePoint now) {
  std::size_t created = 0;
  writer_.RunSync([&](Database& db) {
    for (const PaidOrderEvent& e : events) {
      if (!storage::ClaimEvent(db, "orders.order_paid", e.event_id, now)) continue;
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
      if (db.Changes() == 0) continue;  // same payment delivered under another event id
      for (const OrderLine& line : e.lines) {
        auto& l = db.Cached(
            "INSERT INTO order_lines (order_id, product_id, quantity, price) VALUES (?, ?, ?, ?)");
        l.BindInt64(1, e.order_id)
            .BindInt64(2, line.product_id)
            .BindInt64(3, line.quantity)
            .BindInt64(4, line.price);
        l.Step();
        l.Reset();
      }
      auto& h = db.Cached(
          "INSERT INTO order_history (order_id, seq, status, at_ms, cause) "
          "VALUES (?, 1, 'PAID', ?, 'payment captured')");
      h.BindInt64(1, e.order_id).BindInt64(2, ToUnixMillis(e.paid_at));
      h.Step();
      h.Reset();
      ++created;
    }
  });
  return created;
}

std::vector<Order> SqliteOrderStore::ListForMember(std::int64_t member_id, std::int64_t before_id,
                                                   std::size_t limit) {
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT id, member_id, payment_id, status, total, created_at_ms, updated_at_ms FROM orders "
      "WHERE member_id = ? AND id < ? ORDER BY id DESC LIMIT ?");
  s.BindInt64(1, member_id)
      .BindInt64(2, before_id > 0 ? before_id : INT64_MAX)
      .BindInt64(3, static_cast<std::int64_t>(limit));
  std::vector<Order> out;
  while (s.Step()) out.push_back(ReadOrderRow(s));
  s.Reset();
  for (Order& o : out) LoadLines(db, o);
  return out;
}

std::optional<Order> SqliteOrderStore::Find(std::int64_t order_id) {
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(
      "SELECT id, member_id, payment_id, status, total, created_at_ms, updated_at_ms FROM orders "
      "WHERE id = ?");
  s.BindInt64(1, order_id);
  std::optional<Order> out;
  if (s.Step()) out = ReadOrderRow(s);
  s.Reset();
  if (!out) return out;
  LoadLines(db, *out);
  auto& h =
      db.Cached("SELECT status, at_ms, cause FROM order_history WHERE order_id = ? ORDER BY seq");
  h.BindInt64(1, order_id);
  while (h.Step()) {
    out->history.push_back({ParseOrderStatus(h.TextView(0)).value_or(OrderStatus::kPaid),
                            FromUnixMillis(h.Int64(1)), h.Text(2)});
  }
  h.Reset();
  return out;
}

}  // namespace rocketmart::orders

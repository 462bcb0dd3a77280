#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"

namespace rocketmart::checkout {

using sqlite_internal::kInventoryColumns;
using sqlite_internal::Ledger;
using sqlite_internal::ReadInventoryRow;
using storage::Database;

std::vector<InventoryRow> SqliteStockStore::LoadInventory() {
  std::vector<InventoryRow> rows;
  writer_.RunSync([&rows](Database& db) {
    auto s = db.Prepare(std::string(kInventoryColumns) + " ORDER BY product_id");
    while (s.Step()) rows.push_back(ReadInventoryRow(s));
  });
  return rows;
}

MemberUnitsByProduct SqliteStockStore::LoadMemberUnits() {
  MemberUnitsByProduct out;
  writer_.RunSync([&out](Database& db) {
    auto s = db.Prepare("SELECT product_id, member_id, units FROM member_units WHERE units > 0");
    while (s.Step()) out[s.Int64(0)][s.Int64(1)] = s.Int64(2);
  });
  return out;
}

boost::asio::awaitable<Result<std::optional<InventoryRow>>> SqliteStockStore::ApplyProductFacts(
    ProductFacts facts, std::string consumer, std::string event_id, TimePoint now) {
  auto job = [facts = std::move(facts), consumer = std::move(consumer),
              event_id = std::move(event_id),
              now](Database& db) -> Result<std::optional<InventoryRow>> {
    if (!events::sqlite_outbox::ClaimEvent(db, consumer, event_id, now)) {
      return std::optional<InventoryRow>{};
    }
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
      // Stale: claimed (it is handled), nothing changed.
      if (db.Changes() == 0) return std::optional<InventoryRow>{};
    }
    static const std::string sql = std::string(kInventoryColumns) + " WHERE product_id = ?";
    auto& read = db.Cached(sql);
    read.BindInt64(1, facts.product_id);
    read.Step();
    std::optional<InventoryRow> row = ReadInventoryRow(read);
    read.Reset();
    if (row) row->created = !known;
    return row;
  };
  co_return co_await async::Write<std::optional<InventoryRow>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<InventoryRow>> SqliteStockStore::Restock(std::int64_t product_id,
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

boost::asio::awaitable<Result<StockSnapshot>> SqliteStockStore::Snapshot(std::int64_t product_id) {
  Database& db = readers_.ForThisThread();
  // One read transaction, so the count and the members' units are of the same moment.
  db.Exec("BEGIN");
  StockSnapshot out;
  out.product_id = product_id;
  bool found = false;
  try {
    auto& s = db.Cached("SELECT available FROM inventory WHERE product_id = ?");
    s.BindInt64(1, product_id);
    if (s.Step()) {
      found = true;
      out.available = s.Int64(0);
    }
    s.Reset();
    if (found) {
      auto& units =
          db.Cached("SELECT member_id, units FROM member_units WHERE product_id = ? AND units > 0");
      units.BindInt64(1, product_id);
      while (units.Step()) out.member_units.emplace(units.Int64(0), units.Int64(1));
      units.Reset();
    }
  } catch (...) {
    db.Exec("ROLLBACK");
    throw;
  }
  db.Exec("COMMIT");
  if (!found) co_return MakeError(Errc::kNotFound, "no such product");
  co_return out;
}

boost::asio::awaitable<Result<std::vector<InvariantReport>>> SqliteStockStore::CheckInvariants() {
  std::vector<InvariantReport> problems;
  Database& db = readers_.ForThisThread();
  auto& s = db.Cached(R"sql(
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
  s.Reset();
  co_return problems;
}

boost::asio::awaitable<Result<std::optional<ProductSaleFigures>>> SqliteStockStore::SaleFigures(
    std::int64_t product_id) {
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
  co_return out;
}

}  // namespace rocketmart::checkout

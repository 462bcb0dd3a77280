#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/transaction.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_internal.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::checkout {

namespace asio = boost::asio;
using postgres::Connection;
using postgres::Params;
using postgres::Rows;
using postgres_internal::kInventoryColumns;
using postgres_internal::QueryAtStartUp;
using postgres_internal::QueryOnce;
using postgres_internal::ReadInventoryRow;

std::vector<InventoryRow> PostgresStockStore::LoadInventory() {
  static const std::string sql = std::string(kInventoryColumns) + " ORDER BY product_id";
  const Rows rows = QueryAtStartUp(pool_, sql, "loading the inventory");
  std::vector<InventoryRow> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(ReadInventoryRow(rows, i));
  return out;
}

MemberUnitsByProduct PostgresStockStore::LoadMemberUnits() {
  const Rows rows =
      QueryAtStartUp(pool_, "SELECT product_id, member_id, units FROM member_units WHERE units > 0",
                     "loading the members' units");
  MemberUnitsByProduct out;
  for (int i = 0; i < rows.size(); ++i) out[rows.Int64(i, 0)][rows.Int64(i, 1)] = rows.Int64(i, 2);
  return out;
}

asio::awaitable<Result<std::optional<InventoryRow>>> PostgresStockStore::ApplyProductFacts(
    ProductFacts facts, std::string consumer, std::string event_id, TimePoint now) {
  auto work = [facts = std::move(facts), consumer = std::move(consumer),
               event_id = std::move(event_id),
               now](Connection& c) -> asio::awaitable<Result<std::optional<InventoryRow>>> {
    auto claimed = co_await events::postgres_outbox::ClaimEvent(c, consumer, event_id, now);
    if (!claimed.ok()) co_return std::move(claimed).error();
    if (!*claimed) co_return std::optional<InventoryRow>{};
    // Created, or updated only by newer facts (the row's lock orders concurrent events); the
    // first facts also write the INIT ledger row.
    Params p;
    p.Add(facts.product_id)
        .Add(facts.price)
        .Add(facts.initial_stock)
        .Add(facts.retired)
        .Add(facts.version)
        .Add(facts.name)
        .Add(ToUnixMillis(now));
    static const std::string sql =
        "WITH up AS (INSERT INTO inventory AS i (product_id, price, initial, available, retired, "
        "catalog_version, name) VALUES ($1, $2, $3, $3, $4, $5, $6) "
        "ON CONFLICT (product_id) DO UPDATE SET price = excluded.price, "
        "retired = excluded.retired, catalog_version = excluded.catalog_version, "
        "name = CASE WHEN excluded.name = '' THEN i.name ELSE excluded.name END "
        "WHERE i.catalog_version < excluded.catalog_version "
        "RETURNING i.*, (xmax = 0) AS inserted), "
        "ledger AS (INSERT INTO stock_ledger (product_id, kind, quantity, at_ms) "
        "SELECT product_id, 'INIT', initial, $7 FROM up WHERE inserted) "
        "SELECT product_id, price, initial, restocked, available, held, sold, retired, "
        "catalog_version, inserted FROM up";
    auto rows = co_await c.Query(sql, std::move(p));
    if (!rows.ok()) co_return std::move(rows).error();
    // Stale: claimed (it is handled), nothing changed.
    if (rows->empty()) co_return std::optional<InventoryRow>{};
    InventoryRow row = ReadInventoryRow(*rows, 0);
    row.created = rows->Bool(0, 9);
    co_return std::optional<InventoryRow>{row};
  };
  co_return co_await postgres::Transact<std::optional<InventoryRow>>(pool_, std::move(work));
}

asio::awaitable<Result<InventoryRow>> PostgresStockStore::Restock(std::int64_t product_id,
                                                                  std::int64_t quantity,
                                                                  TimePoint now) {
  auto work = [product_id, quantity, now](Connection& c) -> asio::awaitable<Result<InventoryRow>> {
    // Guarded like a hold: the ceiling holds whatever the caller checked.
    Params p;
    p.Add(quantity).Add(product_id).Add(kMaxUnitsStocked).Add(ToUnixMillis(now));
    auto rows = co_await c.Query(
        "WITH up AS (UPDATE inventory SET available = available + $1, restocked = restocked + $1 "
        "WHERE product_id = $2 AND NOT retired AND initial + restocked + $1 <= $3 RETURNING *), "
        "ledger AS (INSERT INTO stock_ledger (product_id, kind, quantity, at_ms) "
        "SELECT product_id, 'RESTOCK', $1, $4 FROM up) "
        "SELECT product_id, price, initial, restocked, available, held, sold, retired, "
        "catalog_version FROM up",
        std::move(p));
    if (!rows.ok()) co_return std::move(rows).error();
    if (!rows->empty()) co_return ReadInventoryRow(*rows, 0);
    Params q;
    q.Add(product_id);
    auto row = co_await c.Query(
        "SELECT initial + restocked FROM inventory WHERE product_id = $1 AND NOT retired",
        std::move(q));
    if (!row.ok()) co_return std::move(row).error();
    if (row->empty()) co_return MakeError(Errc::kNotFound, "no such product");
    co_return MakeError(Errc::kValidationFailed,
                        "a product is stocked with at most " + std::to_string(kMaxUnitsStocked) +
                            " units over its life (initial + restocked); room left: " +
                            std::to_string(kMaxUnitsStocked - row->Int64(0, 0)),
                        "quantity");
  };
  co_return co_await postgres::Transact<InventoryRow>(pool_, std::move(work));
}

asio::awaitable<Result<StockSnapshot>> PostgresStockStore::Snapshot(std::int64_t product_id) {
  // One statement, so the count and the members' units are of the same moment.
  Params p;
  p.Add(product_id);
  auto rows = co_await QueryOnce(
      pool_,
      "SELECT i.available, m.member_id, m.units FROM inventory i LEFT JOIN member_units m "
      "ON m.product_id = i.product_id AND m.units > 0 WHERE i.product_id = $1",
      std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  if (rows->empty()) co_return MakeError(Errc::kNotFound, "no such product");
  StockSnapshot out;
  out.product_id = product_id;
  out.available = rows->Int64(0, 0);
  for (int i = 0; i < rows->size(); ++i) {
    if (!rows->IsNull(i, 1)) out.member_units.emplace(rows->Int64(i, 1), rows->Int64(i, 2));
  }
  co_return out;
}

asio::awaitable<Result<std::vector<InvariantReport>>> PostgresStockStore::CheckInvariants() {
  Params none;
  auto rows = co_await QueryOnce(pool_, R"sql(
    SELECT i.product_id, i.initial, i.restocked, i.available, i.held, i.sold,
      COALESCE((SELECT SUM(l.quantity) FROM hold_lines l JOIN holds h ON h.id = l.hold_id
                WHERE l.product_id = i.product_id AND h.status IN ('ACTIVE', 'PAYING')), 0)::bigint,
      COALESCE((SELECT SUM(l.quantity) FROM hold_lines l JOIN holds h ON h.id = l.hold_id
                WHERE l.product_id = i.product_id AND h.status = 'PAID'), 0)::bigint,
      i.refunded
    FROM inventory i)sql",
                                 std::move(none));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<InvariantReport> problems;
  const Rows& s = *rows;
  for (int r = 0; r < s.size(); ++r) {
    const std::int64_t product = s.Int64(r, 0);
    if (s.Int64(r, 1) + s.Int64(r, 2) != s.Int64(r, 3) + s.Int64(r, 4) + s.Int64(r, 5)) {
      problems.push_back({product, "initial + restocked != available + held + sold"});
    }
    if (s.Int64(r, 4) != s.Int64(r, 6))
      problems.push_back({product, "held != units in open holds"});
    if (s.Int64(r, 5) + s.Int64(r, 8) != s.Int64(r, 7)) {
      problems.push_back({product, "sold + refunded != units in paid holds"});
    }
  }
  co_return problems;
}

asio::awaitable<Result<std::optional<ProductSaleFigures>>> PostgresStockStore::SaleFigures(
    std::int64_t product_id) {
  Params p;
  p.Add(product_id);
  auto rows = co_await QueryOnce(pool_, R"sql(
    SELECT i.available, i.held, i.sold, i.refunded,
      COALESCE((SELECT SUM(l.quantity * l.price) FROM hold_lines l
                JOIN payments p ON p.hold_id = l.hold_id
                WHERE l.product_id = i.product_id AND p.status = 'CAPTURED'), 0)::bigint,
      COALESCE((SELECT SUM(l.quantity * l.price) FROM hold_lines l
                JOIN payments p ON p.hold_id = l.hold_id
                WHERE l.product_id = i.product_id AND p.status = 'REFUNDED'), 0)::bigint
    FROM inventory i WHERE i.product_id = $1)sql",
                                 std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<ProductSaleFigures> out;
  if (!rows->empty()) {
    const Rows& s = *rows;
    out = ProductSaleFigures{s.Int64(0, 0), s.Int64(0, 1), s.Int64(0, 2),
                             s.Int64(0, 3), s.Int64(0, 4), s.Int64(0, 5)};
  }
  co_return out;
}

// ---- sales -----------------------------------------------------------------------------------

std::vector<StoredSale> PostgresSaleStore::LoadSales() {
  const Rows rows = QueryAtStartUp(
      pool_, "SELECT product_id, starts_at_ms, ends_at_ms, per_member_limit, version FROM sales",
      "loading the sales");
  std::vector<StoredSale> sales;
  for (int i = 0; i < rows.size(); ++i) {
    sales.push_back(
        {rows.Int64(i, 0),
         Sale{FromUnixMillis(rows.Int64(i, 1)), FromUnixMillis(rows.Int64(i, 2)), rows.Int64(i, 3)},
         rows.Int64(i, 4)});
  }
  return sales;
}

asio::awaitable<Result<std::int64_t>> PostgresSaleStore::SaveSale(std::int64_t product_id,
                                                                  Sale sale, TimePoint now) {
  // Two writers of one product's sale serialize on its row (the upsert waits for the other's
  // lock, then increments the version it committed); the event commits with the row.
  auto work = [product_id, sale, now](Connection& c) -> asio::awaitable<Result<std::int64_t>> {
    Params p;
    p.Add(product_id)
        .Add(ToUnixMillis(sale.starts_at))
        .Add(ToUnixMillis(sale.ends_at))
        .Add(sale.per_member_limit)
        .Add(ToUnixMillis(now));
    auto rows = co_await c.Query(
        "INSERT INTO sales (product_id, starts_at_ms, ends_at_ms, per_member_limit, "
        "updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (product_id) DO "
        "UPDATE SET starts_at_ms = $2, ends_at_ms = $3, per_member_limit = $4, "
        "updated_at_ms = $5, version = sales.version + 1 RETURNING version",
        std::move(p));
    if (!rows.ok()) co_return std::move(rows).error();
    const std::int64_t version = rows->Int64(0, 0);
    const std::string payload = api::Encode(api::SaleChanged{
        product_id, sale.starts_at, sale.ends_at, sale.per_member_limit, version, now});
    auto appended = co_await events::postgres_outbox::Append(c, api::kSaleChanged, payload, now);
    if (!appended.ok()) co_return std::move(appended).error();
    co_return version;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

}  // namespace rocketmart::checkout

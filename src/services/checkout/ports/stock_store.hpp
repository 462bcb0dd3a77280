// Port: checkout's stock — one inventory row per product (available / held / sold / refunded, the
// catalog's facts: price, name, retired, version), the append-only stock ledger and the per-member
// units, with the reads of them that operators and the reconciler need. Implemented by
// adapters/sqlite_checkout_stores (SqliteStockStore).
//
// Holds and refunds move stock too, inside their own transactions (HoldStore, RefundStore): a
// transaction never spans two ports. This port owns what only moves stock: the catalog's product
// facts, restocks, and the reads.
//
// Convention: every call a request, an event consumer or the reconciler waits for is awaitable
// and answers a Result (kOverloaded when the store sheds load; infrastructure failures throw). A
// read may complete inline. LoadInventory and LoadMemberUnits are start-up reads: synchronous,
// called once by CheckoutService::Load before any request is served.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::checkout {

struct InventoryRow {
  std::int64_t product_id = 0;
  std::int64_t price = 0;
  std::int64_t initial = 0;
  std::int64_t restocked = 0;
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
  bool retired = false;
  std::int64_t catalog_version = 0;  // of the catalog's product event last applied
  // ApplyProductFacts only: this call inserted the row (the product's first facts), so its initial
  // stock exists in the database from this commit on.
  bool created = false;
};

// What checkout learns about a product from the catalog's events.
struct ProductFacts {
  std::int64_t product_id = 0;
  std::int64_t price = 0;
  std::int64_t initial_stock = 0;
  bool retired = false;
  std::int64_t version = 0;  // catalog version: older facts never overwrite newer ones
  std::string name;          // carried on order lines (empty from events that predate names)
};

// Checkout's figures for one product's sale (the operator's per-sale summary).
struct ProductSaleFigures {
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t sold = 0;
  std::int64_t refunded_units = 0;
  std::int64_t revenue = 0;  // captured and not refunded
  std::int64_t refunded_amount = 0;
};

// One product's stock as one transaction saw it: what admission's counters are rebuilt from.
struct StockSnapshot {
  std::int64_t product_id = 0;
  std::int64_t available = 0;
  std::unordered_map<std::int64_t, std::int64_t> member_units;  // members with units > 0
};

struct InvariantReport {
  std::int64_t product_id = 0;
  std::string problem;
};

// Units per member per product: product id -> member id -> units held or paid.
using MemberUnitsByProduct =
    std::unordered_map<std::int64_t, std::unordered_map<std::int64_t, std::int64_t>>;

class StockStore {
 public:
  virtual ~StockStore() = default;

  // Start-up: every inventory row.
  virtual std::vector<InventoryRow> LoadInventory() = 0;
  // Start-up: every member's units (held or paid) per product, only those above zero.
  virtual MemberUnitsByProduct LoadMemberUnits() = 0;

  // Applies a catalog product event (created / updated / retired) as an effect: once per event
  // id for `consumer` (claimed in the row's transaction), never over newer facts (by version).
  // The resulting row, or nullopt when the event was a duplicate or stale.
  virtual boost::asio::awaitable<Result<std::optional<InventoryRow>>> ApplyProductFacts(
      ProductFacts facts, std::string consumer, std::string event_id, TimePoint now) = 0;
  // Adds `quantity` sellable units (ledger RESTOCK). kNotFound for unknown or retired products;
  // kValidationFailed past kMaxUnitsStocked over the product's life.
  virtual boost::asio::awaitable<Result<InventoryRow>> Restock(std::int64_t product_id,
                                                               std::int64_t quantity,
                                                               TimePoint now) = 0;

  // One product's available units and member units, read in one transaction; kNotFound for an
  // unknown product.
  virtual boost::asio::awaitable<Result<StockSnapshot>> Snapshot(std::int64_t product_id) = 0;
  // Conservation per product (initial + restocked = available + held + sold) and agreement of
  // held and sold with the holds.
  virtual boost::asio::awaitable<Result<std::vector<InvariantReport>>> CheckInvariants() = 0;
  // The operator's per-sale figures; nullopt for an unknown product.
  virtual boost::asio::awaitable<Result<std::optional<ProductSaleFigures>>> SaleFigures(
      std::int64_t product_id) = 0;
};

}  // namespace rocketmart::checkout

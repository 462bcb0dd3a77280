// checkout.db: its schema (migrations) and the statements several of checkout's SQLite stores run
// inside their own transactions (adapters/sqlite_checkout_stores.hpp). Internal to the adapters.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "infra/storage/migrations.hpp"
#include "infra/storage/sqlite.hpp"
#include "services/checkout/ports/hold_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout {

std::span<const storage::Migration> CheckoutMigrations();

namespace sqlite_internal {

// Appends a stock ledger row (hold_id 0 = none).
void Ledger(storage::Database& db, std::int64_t product_id, std::string_view kind,
            std::int64_t quantity, std::int64_t hold_id, TimePoint now);
std::vector<HoldLine> LoadLines(storage::Database& db, std::int64_t hold_id);
std::optional<HoldOutcome> ReadHold(storage::Database& db, std::int64_t hold_id);
// Returns the hold's units to `available` and the member's units; marks it `to` with `reason`.
ReleasedUnits ReleaseInTransaction(storage::Database& db, const HoldOutcome& outcome, HoldStatus to,
                                   ReleaseReason reason, TimePoint now);
// The inventory row at `s`, selected with kInventoryColumns.
InventoryRow ReadInventoryRow(const storage::Statement& s);
inline constexpr std::string_view kInventoryColumns =
    "SELECT product_id, price, initial, restocked, available, held, sold, retired, catalog_version "
    "FROM inventory";

}  // namespace sqlite_internal
}  // namespace rocketmart::checkout

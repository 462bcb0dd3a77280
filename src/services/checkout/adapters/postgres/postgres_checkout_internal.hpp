// What checkout's PostgreSQL stores share (adapters/postgres/postgres_checkout_stores.hpp):
// statements several stores run inside their own transactions, and the start-up helpers.
// Internal to the adapters.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/async/run.hpp"
#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_stores.hpp"

namespace rocketmart::checkout::postgres_internal {

// A PostgreSQL array literal of integers: {1,2,3}.
std::string IntArray(const std::vector<std::int64_t>& values);

// The hold with its lines and payment; with `lock`, its row is locked FOR UPDATE until the end of
// the transaction (every transition takes it first, so racing transitions resolve it once).
boost::asio::awaitable<Result<std::optional<HoldOutcome>>> ReadHold(postgres::Connection& c,
                                                                    std::int64_t hold_id,
                                                                    bool lock);
boost::asio::awaitable<Result<std::vector<HoldLine>>> LoadLines(postgres::Connection& c,
                                                                std::int64_t hold_id);

inline constexpr std::string_view kInventoryColumns =
    "SELECT product_id, price, initial, restocked, available, held, sold, retired, "
    "catalog_version FROM inventory";
InventoryRow ReadInventoryRow(const postgres::Rows& r, int row);

[[noreturn]] void ThrowAtStartUp(const Error& error, std::string_view what);

// Runs `query` on a pooled connection (outside any transaction) and answers its rows.
inline boost::asio::awaitable<Result<postgres::Rows>> QueryOnce(postgres::Pool& pool,
                                                                std::string_view sql,
                                                                postgres::Params params) {
  auto lease = co_await pool.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  co_return co_await (*lease)->Query(sql, std::move(params));
}

// A start-up read: blocks the calling thread (the port's start-up loads run once, before any
// request); a failure stops the start.
inline postgres::Rows QueryAtStartUp(postgres::Pool& pool, std::string_view sql,
                                     std::string_view what) {
  auto rows = async::RunToCompletion(QueryOnce(pool, sql, {}));
  if (!rows.ok()) ThrowAtStartUp(rows.error(), what);
  return std::move(rows).value();
}

}  // namespace rocketmart::checkout::postgres_internal

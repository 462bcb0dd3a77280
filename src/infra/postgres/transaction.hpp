// Transact: a unit of work in one transaction on a pooled connection.
//
//   auto work = [&](postgres::Connection& c) -> boost::asio::awaitable<Result<Product>> {...};
//   co_return co_await postgres::Transact<Product>(pool, std::move(work));
//
// BEGIN, the work, COMMIT; an Error from the work rolls everything back and is returned (a
// business outcome, or a failed statement). A deadlock or serialization failure (SQLSTATE 40P01,
// 40001: the server chose this transaction as the loser, nothing of it committed) retries the
// whole work on a fresh transaction, up to kAttempts times; then it is returned as kUnavailable
// (transient). A lost connection is not retried: whether COMMIT happened is unknown, so the caller
// decides (its operations are idempotent or it reports the failure). The work must be re-runnable
// (it is called again from the start on a retry). Name the lambda first (docs/adr/0003: never a
// capturing lambda as a temporary inside co_await).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <utility>

#include "core/result.hpp"
#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"

namespace rocketmart::postgres {

inline constexpr int kAttempts = 4;

// True for a failure the server resolved by aborting this transaction alone.
inline bool RetryableState(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";
}

template <class T, class Fn>
boost::asio::awaitable<Result<T>> Transact(Pool& pool, Fn fn) {
  for (int attempt = 1;; ++attempt) {
    auto lease = co_await pool.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    Connection& conn = **lease;
    auto begun = co_await conn.Execute("BEGIN");
    if (!begun.ok()) co_return std::move(begun).error();
    Result<T> result = co_await fn(conn);
    std::optional<Error> failure;
    if (result.ok()) {
      auto committed = co_await conn.Execute("COMMIT");
      if (committed.ok()) co_return result;
      failure = std::move(committed).error();
    } else {
      failure = std::move(result).error();
      const std::string state = conn.last_sqlstate();
      if (PQstatus(conn.raw()) == CONNECTION_OK) {
        // A failed ROLLBACK leaves the connection inside a transaction: the pool then drops it.
        auto rolled_back = co_await conn.Execute("ROLLBACK");
        (void)rolled_back;
      }
      if (RetryableState(state) && attempt < kAttempts) continue;
      co_return std::move(*failure);
    }
    if (RetryableState(conn.last_sqlstate()) && attempt < kAttempts) continue;
    co_return std::move(*failure);
  }
}

}  // namespace rocketmart::postgres

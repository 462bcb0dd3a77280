// The PostgreSQL side of a contract fixture: a fresh database on the test binary's server
// (SharedLocalPostgres), migrated by the adapter's own migration, and the pool settings of one
// adapter instance over it (each instance has its own pool, as a second process would).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "infra/postgres/pool.hpp"
#include "support/local_postgres.hpp"
#include "support/run_await.hpp"

namespace rocketmart::testing {

inline postgres::PoolSettings InstancePool(const std::string& conninfo, std::size_t size = 8) {
  postgres::PoolSettings settings;
  settings.connect.conninfo = conninfo;
  settings.size = size;
  return settings;
}

// `migrate` is the adapter's migration: boost::asio::awaitable<Status>(postgres::Connection&).
// Returns the new database's connection string.
template <class Migrate>
std::string NewMigratedDatabase(std::string_view prefix, Migrate migrate) {
  auto& server = SharedLocalPostgres();
  const std::string conninfo = server.ConnectionString(server.NewDatabase(prefix));
  postgres::Pool pool(InstancePool(conninfo, 1));
  auto run = [](postgres::Pool& pool, Migrate migrate) -> boost::asio::awaitable<Status> {
    auto lease = co_await pool.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    co_return co_await migrate(**lease);
  };
  const Status migrated = RunAwait(run(pool, migrate));
  if (!migrated.ok()) {
    throw std::runtime_error("migrating " + std::string(prefix) +
                             " failed: " + migrated.error().message + "\n" + server.LogTail());
  }
  return conninfo;
}

}  // namespace rocketmart::testing

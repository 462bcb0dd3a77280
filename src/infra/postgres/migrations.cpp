#include "infra/postgres/migrations.hpp"

#include <spdlog/spdlog.h>

#include <set>
#include <string>

namespace rocketmart::postgres {

namespace {

boost::asio::awaitable<Status> Apply(Connection& c, std::string_view component,
                                     std::span<const Migration> migrations) {
  auto created = co_await c.Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " component text NOT NULL, version integer NOT NULL, name text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))");
  if (!created.ok()) co_return created;
  Params which;
  which.Add(component);
  auto applied_rows = co_await c.Query("SELECT version FROM schema_migrations WHERE component = $1",
                                       std::move(which));
  if (!applied_rows.ok()) co_return std::move(applied_rows).error();
  std::set<std::int64_t> applied;
  for (int i = 0; i < applied_rows->size(); ++i) applied.insert(applied_rows->Int64(i, 0));
  int newest_known = 0;
  for (const auto& m : migrations) newest_known = std::max(newest_known, m.version);
  if (!applied.empty() && *applied.rbegin() > newest_known) {
    spdlog::critical("postgres: {} schema is at version {}, this binary knows up to {}", component,
                     *applied.rbegin(), newest_known);
    co_return MakeError(Errc::kInternal, "the database schema is newer than this binary");
  }
  for (const auto& m : migrations) {
    if (applied.contains(m.version)) continue;
    auto begun = co_await c.Execute("BEGIN");
    if (!begun.ok()) co_return begun;
    auto ran = co_await c.Execute(m.sql);
    if (!ran.ok()) {
      spdlog::critical("postgres: migration {} {} ({}) failed", component, m.version, m.name);
      auto rolled_back = co_await c.Execute("ROLLBACK");
      (void)rolled_back;
      co_return ran;
    }
    Params record;
    record.Add(component).Add(static_cast<std::int64_t>(m.version)).Add(m.name);
    auto recorded = co_await c.Query(
        "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
        std::move(record));
    if (!recorded.ok()) co_return std::move(recorded).error();
    auto committed = co_await c.Execute("COMMIT");
    if (!committed.ok()) co_return committed;
    spdlog::info("postgres: migrated {} to version {} ({})", component, m.version, m.name);
  }
  co_return Ok();
}

}  // namespace

boost::asio::awaitable<Status> Migrate(Connection& connection, std::string_view component,
                                       std::span<const Migration> migrations) {
  Params key;
  key.Add(component);
  auto locked = co_await connection.Query(
      "SELECT pg_advisory_lock(hashtextextended('rocketmart.migrate.' || $1, 0))", std::move(key));
  if (!locked.ok()) co_return std::move(locked).error();
  Status outcome = co_await Apply(connection, component, migrations);
  Params again;
  again.Add(component);
  auto unlocked = co_await connection.Query(
      "SELECT pg_advisory_unlock(hashtextextended('rocketmart.migrate.' || $1, 0))",
      std::move(again));
  if (!unlocked.ok() && outcome.ok()) co_return std::move(unlocked).error();
  co_return outcome;
}

}  // namespace rocketmart::postgres

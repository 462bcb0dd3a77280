// A service's database as its module owns it and the process that runs the module drives it,
// whichever engine keeps it (issue 13, ADR 0008): SQLite in the data directory (the embedded
// default, storage::ServiceDatabase) or PostgreSQL (PostgresDatabase below), chosen by the
// service's [<service>.database] url (docs/postgres.md).
//
// What the root does with one, by engine:
//   - SQLite: starts its group-commit writer before Load() and stops it after the workers; adds it
//     to the in-process bus by writer and readers (its outbox, positions, claims, dead letters).
//   - PostgreSQL: nothing to start (pools connect on demand); adds its outbox source and consumer
//     store to the same in-process bus; the pools close when the module is destroyed.
// Both answer /health (CheckWritable) and prune old event claims.
//
// Threads (PostgreSQL): no thread of its own runs the stores' queries. A query runs on the
// executor of the coroutine that makes it (a server I/O thread for a request, the maintenance
// thread for a sweep, a relay thread for the bus, a private io_context at start-up), as ADR 0042
// decided: one pool serves every thread, no hop between threads per query. The one exception is
// the scrape-time gauges (ReadNumber): a scrape is synchronous, so those reads run on one small
// thread of the database's own, and the scrape waits for each at most the statement timeout.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/config/config.hpp"
#include "infra/events/postgres_outbox/postgres_stores.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/postgres/pool.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/service_database.hpp"

namespace rocketmart::module {

// One service's PostgreSQL database: the pool its stores share, the event bus's view of its
// outbox and consumer tables (each with a small pool of its own), a probe for /health and a
// reader for scrape-time gauges. Thread-safe.
class PostgresDatabase {
 public:
  // The service's migration (the event tables, then its own), run under the advisory lock.
  using Migrate = std::function<boost::asio::awaitable<Status>(postgres::Connection&)>;

  // Connects (the first connection checks the server is durable: CheckDurable refuses fsync or
  // synchronous_commit off), migrates and checks the database takes writes, within the
  // connect and statement timeouts. Throws std::runtime_error naming `key` (the url's key,
  // "checkout.database.url"), the URL (never a password: the configuration refuses one in it)
  // and the reason. Registers the pool's gauges (postgres_pool_connections{db=<name>}).
  PostgresDatabase(std::string name, std::string key, const config::DatabaseConfig& config,
                   const Migrate& migrate, metrics::Registry& metrics);
  ~PostgresDatabase();
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  const std::string& name() const { return name_; }
  // The pool the service's stores share (pool_size connections).
  postgres::Pool& pool() { return *pool_; }
  events::OutboxSource& outbox() { return *outbox_; }
  events::ConsumerStore& consumer() { return *consumer_; }

  // Whether the database takes writes now: one statement on a connection of the probe's own (so
  // a busy store pool does not read as unwritable) saying the server is a primary and the session
  // is not read-only. Bounded by the connect and statement timeouts.
  boost::asio::awaitable<bool> CheckWritable();

  // The first column of the first row of `sql` as a number (0 for no row or NULL; NaN when the
  // read fails or takes longer than the statement timeout; NaN at once while an earlier read is
  // still running). For scrape-time gauges: blocks the caller at most the statement timeout.
  double ReadNumber(std::string sql, postgres::Params params);

  // Deletes up to `limit` event claims older than `before`; how many went.
  boost::asio::awaitable<Result<std::int64_t>> PruneProcessedEvents(TimePoint before,
                                                                    std::int64_t limit);

 private:
  struct GaugeRead;
  static boost::asio::awaitable<void> Read(PostgresDatabase* self, std::string sql,
                                           postgres::Params params,
                                           std::shared_ptr<GaugeRead> read);

  const std::string name_;
  const std::chrono::milliseconds statement_timeout_;
  std::unique_ptr<postgres::Pool> pool_;
  std::unique_ptr<postgres::Pool> probe_pool_;
  std::unique_ptr<postgres::Pool> gauge_pool_;
  std::unique_ptr<events::postgres_outbox::PostgresOutboxSource> outbox_;
  std::unique_ptr<events::postgres_outbox::PostgresConsumerStore> consumer_;
  // The gauges' thread (declared after the pools: it stops, and its coroutines end, first).
  std::atomic<bool> gauge_busy_{false};
  boost::asio::io_context gauge_io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> gauge_work_;
  std::thread gauge_thread_;
};

// The pool settings of [<service>.database] (URL, password, timeouts), `size` connections.
postgres::PoolSettings PoolSettingsFor(const config::DatabaseConfig& config, std::size_t size);

// One of a module's databases: exactly one of the two is set.
struct Database {
  std::unique_ptr<storage::ServiceDatabase> sqlite;
  std::unique_ptr<PostgresDatabase> postgres;

  const std::string& name() const { return sqlite ? sqlite->name : postgres->name(); }
  boost::asio::awaitable<bool> CheckWritable();
};

// The database of `service` as [<service>.database] says: SQLite (<data_dir>/<service>.db, opened,
// probed and migrated with `sqlite_migrations`) for an empty or `sqlite:` url, else PostgreSQL
// (`postgres_migrate`). Throws std::runtime_error naming the store when it cannot write.
Database OpenDatabase(const std::string& service, const config::DatabaseConfig& database,
                      const config::StorageConfig& storage,
                      std::span<const storage::Migration> sqlite_migrations,
                      const PostgresDatabase::Migrate& postgres_migrate,
                      metrics::Registry& metrics);

}  // namespace rocketmart::module

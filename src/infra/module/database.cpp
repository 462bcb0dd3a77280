#include "infra/module/database.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>
#include <future>
#include <limits>
#include <stdexcept>

#include "infra/async/run.hpp"

namespace rocketmart::module {

namespace asio = boost::asio;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A primary that lets this session write.
constexpr std::string_view kWritableSql =
    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'";

// Start-up: one connection (durability checked as it opens), the migrations, then whether the
// database takes writes.
asio::awaitable<Status> Prepare(postgres::Pool& pool, const PostgresDatabase::Migrate& migrate) {
  auto lease = co_await pool.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Status migrated = co_await migrate(**lease);
  if (!migrated.ok()) co_return migrated;
  auto writable = co_await (*lease)->Query(kWritableSql);
  if (!writable.ok()) co_return std::move(writable).error();
  if (writable->empty() || !writable->Bool(0, 0)) {
    co_return MakeError(Errc::kUnavailable,
                        "the server does not take writes (a standby, or default_transaction_"
                        "read_only is on)");
  }
  co_return Ok();
}

asio::awaitable<bool> Writable(postgres::Pool& pool) {
  postgres::Params none;
  auto rows = co_await pool.Query(kWritableSql, std::move(none));
  co_return rows.ok() && !rows->empty() && rows->Bool(0, 0);
}

double Number(const postgres::Rows& rows) {
  if (rows.empty() || rows.IsNull(0, 0)) return 0;
  const std::string_view text = rows.Text(0, 0);
  double value = kNaN;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() ? value : kNaN;
}

}  // namespace

postgres::PoolSettings PoolSettingsFor(const config::DatabaseConfig& config, std::size_t size) {
  postgres::PoolSettings settings;
  settings.connect.conninfo = config.url;
  settings.connect.password = config.password;
  settings.connect.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
  settings.connect.statement_timeout = std::chrono::milliseconds(config.statement_timeout_ms);
  settings.size = size;
  return settings;
}

struct PostgresDatabase::GaugeRead {
  std::promise<double> value;
};

PostgresDatabase::PostgresDatabase(std::string name, std::string key,
                                   const config::DatabaseConfig& config, const Migrate& migrate,
                                   metrics::Registry& metrics)
    : name_(std::move(name)),
      statement_timeout_(config.statement_timeout_ms),
      pool_(std::make_unique<postgres::Pool>(
          PoolSettingsFor(config, static_cast<std::size_t>(config.pool_size)))),
      probe_pool_(std::make_unique<postgres::Pool>(PoolSettingsFor(config, 1))),
      gauge_pool_(std::make_unique<postgres::Pool>(PoolSettingsFor(config, 1))),
      outbox_(std::make_unique<events::postgres_outbox::PostgresOutboxSource>(
          name_, PoolSettingsFor(config, 2))),
      consumer_(std::make_unique<events::postgres_outbox::PostgresConsumerStore>(
          name_, PoolSettingsFor(config, 2))),
      gauge_work_(asio::make_work_guard(gauge_io_)) {
  spdlog::info(
      "{}: PostgreSQL database {} (pool of {}, connect timeout {} ms, statement timeout "
      "{} ms)",
      name_, config.url, config.pool_size, config.connect_timeout_ms, config.statement_timeout_ms);
  const Status prepared = async::RunToCompletion(Prepare(*pool_, migrate));
  if (!prepared.ok()) {
    // libpq's own words (refused, unknown host, authentication, ...) are in the log line before.
    const bool unreachable = prepared.error().code == Errc::kUnavailable ||
                             prepared.error().code == Errc::kTimeout ||
                             prepared.error().code == Errc::kOverloaded;
    throw std::runtime_error(name_ + " database (" + key + " = " + config.url +
                             "): " + prepared.error().message +
                             (unreachable ? " (the log above says why)" : ""));
  }
  gauge_thread_ = std::thread([this] { gauge_io_.run(); });
  postgres::Pool* pool = pool_.get();
  const std::string db = "db=\"" + metrics::EscapeLabel(name_) + "\"";
  metrics.AddGauge("postgres_pool_connections",
                   "Connections of a service's PostgreSQL store pool: open (or opening), idle",
                   db + ",state=\"open\"",
                   [pool] { return static_cast<double>(pool->stats().open); });
  metrics.AddGauge("postgres_pool_connections",
                   "Connections of a service's PostgreSQL store pool: open (or opening), idle",
                   db + ",state=\"idle\"",
                   [pool] { return static_cast<double>(pool->stats().idle); });
  metrics.AddGauge("postgres_pool_waiters", "Callers waiting for a connection of the store pool",
                   db, [pool] { return static_cast<double>(pool->stats().waiting); });
}

PostgresDatabase::~PostgresDatabase() {
  // A gauge read still running ends within its statement timeout; then the thread returns.
  gauge_work_.reset();
  if (gauge_thread_.joinable()) gauge_thread_.join();
}

asio::awaitable<bool> PostgresDatabase::CheckWritable() {
  co_return co_await Writable(*probe_pool_);
}

asio::awaitable<void> PostgresDatabase::Read(PostgresDatabase* self, std::string sql,
                                             postgres::Params params,
                                             std::shared_ptr<GaugeRead> read) {
  auto rows = co_await self->gauge_pool_->Query(sql, std::move(params));
  const double value = rows.ok() ? Number(*rows) : kNaN;
  self->gauge_busy_ = false;
  read->value.set_value(value);
}

double PostgresDatabase::ReadNumber(std::string sql, postgres::Params params) {
  // One read at a time: while one waits for a server that does not answer, the next gauges of
  // the scrape answer NaN at once instead of each waiting its own timeout.
  if (gauge_busy_.exchange(true)) return kNaN;
  auto read = std::make_shared<GaugeRead>();
  std::future<double> value = read->value.get_future();
  asio::co_spawn(gauge_io_, Read(this, std::move(sql), std::move(params), std::move(read)),
                 asio::detached);
  if (value.wait_for(statement_timeout_) != std::future_status::ready) return kNaN;
  return value.get();
}

asio::awaitable<Result<std::int64_t>> PostgresDatabase::PruneProcessedEvents(TimePoint before,
                                                                             std::int64_t limit) {
  const std::int64_t before_ms = ToUnixMillis(before);
  auto params = postgres::MakeParams(before_ms, limit);
  auto rows = co_await pool_->Query(
      "DELETE FROM processed_events WHERE ctid IN (SELECT ctid FROM processed_events "
      "WHERE processed_at_ms < $1 LIMIT $2)",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->affected();
}

asio::awaitable<bool> Database::CheckWritable() {
  if (sqlite) co_return co_await sqlite->CheckWritable();
  co_return co_await postgres->CheckWritable();
}

Database OpenDatabase(const std::string& service, const config::DatabaseConfig& database,
                      const config::StorageConfig& storage,
                      std::span<const storage::Migration> sqlite_migrations,
                      const PostgresDatabase::Migrate& postgres_migrate,
                      metrics::Registry& metrics) {
  Database db;
  if (config::IsPostgresUrl(database.url)) {
    db.postgres = std::make_unique<PostgresDatabase>(service, service + ".database.url", database,
                                                     postgres_migrate, metrics);
  } else {
    db.sqlite =
        std::make_unique<storage::ServiceDatabase>(service, storage, sqlite_migrations, metrics);
  }
  return db;
}

}  // namespace rocketmart::module

#include "infra/storage/migrations.hpp"

#include <chrono>
#include <exception>
#include <string>

namespace rocketmart::storage {
namespace {

constexpr std::string_view kServiceTable = "schema_migrations";
constexpr std::string_view kInternalTable = "storage_internal_migrations";

// The storage module's own schema lives in its own numbering so services can start at 1 and the
// module can evolve its tables without coordinating with every service.
constexpr Migration kInternalMigrations[] = {
    {1, "outbox",
     R"sql(
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE outbox_cursor (
  subscriber TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
);
CREATE TABLE processed_events (
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  processed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
)sql"},
    {2, "outbox dead letters",
     R"sql(
CREATE TABLE outbox_dead_letters (
  subscriber TEXT NOT NULL,
  event_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (subscriber, event_id)
) WITHOUT ROWID;
)sql"},
    {3, "processed events by age",
     R"sql(
CREATE INDEX processed_events_by_age ON processed_events (processed_at_ms);
)sql"},
    // Issue 12: a subscriber's position and dead letters live in the consuming service's database
    // (events/sqlite_outbox), next to its claims. outbox_cursor and outbox_dead_letters above are
    // read once by SqliteEventBus::Start to carry their rows over, and stay empty after that.
    {4, "event cursors and dead letters on the consumer side",
     R"sql(
CREATE TABLE event_cursors (
  source TEXT NOT NULL,
  subscriber TEXT NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (source, subscriber)
) WITHOUT ROWID;
CREATE TABLE event_dead_letters (
  source TEXT NOT NULL,
  subscriber TEXT NOT NULL,
  event_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY (subscriber, event_id)
) WITHOUT ROWID;
)sql"},
};

std::int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CheckOrdering(std::span<const Migration> migrations, std::string_view table) {
  int previous = 0;
  for (const Migration& m : migrations) {
    if (m.version <= previous) {
      throw MigrationError(std::string(table) +
                           ": migration versions must start at 1 and strictly " + "increase; got " +
                           std::to_string(m.version) + " after " + std::to_string(previous));
    }
    previous = m.version;
  }
}

int MaxVersion(Database& db, std::string_view table) {
  Statement stmt = db.Prepare("SELECT COALESCE(MAX(version), 0) FROM " + std::string(table));
  stmt.Step();
  return static_cast<int>(stmt.Int64(0));
}

void Apply(Database& db, std::string_view table, std::span<const Migration> migrations) {
  CheckOrdering(migrations, table);
  const std::string t(table);
  db.Exec("CREATE TABLE IF NOT EXISTS " + t +
          " (version INTEGER PRIMARY KEY, name TEXT, applied_at INTEGER)");
  const int current = MaxVersion(db, table);
  const int known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    // An old binary must not write to a schema it does not understand.
    throw MigrationError(db.path() + ": " + t + " is at version " + std::to_string(current) +
                         " but this build only knows up to " + std::to_string(known));
  }
  // Inside an outer transaction (e.g. a writer job) a savepoint gives the same all-or-nothing
  // property per migration without trying to nest BEGIN.
  const bool nested = db.InTransaction();
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    db.Exec(nested ? "SAVEPOINT storage_migration" : "BEGIN IMMEDIATE");
    try {
      // Re-check under the write lock: another process may have migrated since we looked.
      Statement seen = db.Prepare("SELECT 1 FROM " + t + " WHERE version = ?1");
      seen.BindInt64(1, m.version);
      if (!seen.Step()) {
        seen.Reset();
        db.Exec(m.sql);
        Statement record =
            db.Prepare("INSERT INTO " + t + " (version, name, applied_at) VALUES (?1, ?2, ?3)");
        record.BindInt64(1, m.version).BindText(2, m.name).BindInt64(3, NowUnixSeconds());
        record.Step();
      }
      seen.Reset();
      db.Exec(nested ? "RELEASE storage_migration" : "COMMIT");
    } catch (const std::exception& e) {
      try {
        if (nested) {
          db.Exec("ROLLBACK TO storage_migration; RELEASE storage_migration");
        } else if (db.InTransaction()) {
          db.Exec("ROLLBACK");
        }
      } catch (...) {
        // The original failure is the one worth reporting.
      }
      throw MigrationError(t + " migration " + std::to_string(m.version) + " (" +
                           std::string(m.name) + ") failed: " + e.what());
    }
  }
}

}  // namespace

void Migrate(Database& db, std::span<const Migration> migrations) {
  Apply(db, kInternalTable, kInternalMigrations);
  Apply(db, kServiceTable, migrations);
}

int SchemaVersion(Database& db) {
  // Read-only friendly: a fresh database simply has no bookkeeping table yet.
  Statement exists = db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  exists.BindText(1, kServiceTable);
  if (!exists.Step()) return 0;
  exists.Reset();
  return MaxVersion(db, kServiceTable);
}

}  // namespace rocketmart::storage

// Forward-only schema migrations for one service database.
//
// Migrate() is called once at startup on the writer connection, before the GroupCommitWriter starts
// (see GroupCommitWriter::Connection()). It is not thread-safe with other users of that connection.
// Each migration runs in its own transaction with its bookkeeping row, so a failed migration leaves
// neither partial schema nor a record of having run.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "infra/storage/sqlite.hpp"

namespace rocketmart::storage {

struct Migration {
  int version;  // Service versions start at 1 and strictly increase; never renumber one.
  std::string_view name;
  std::string_view sql;
};

// The list of migrations is malformed, the database is newer than this binary, or one failed.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Applies the storage module's own tables (the event outbox, claims, cursors and dead letters that
// events/sqlite_outbox reads and writes; recorded in storage_internal_migrations) and then every
// service migration newer than the version recorded in schema_migrations. Refuses to run when the
// database records a version this code lacks.
void Migrate(Database& db, std::span<const Migration> migrations);

// The highest applied service migration, 0 for a fresh database.
int SchemaVersion(Database& db);

}  // namespace rocketmart::storage

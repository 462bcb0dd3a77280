// Read-only looks into a running server's SQLite files, for end-to-end invariant checks
// (paid holds = captures = orders = sold, conservation of stock). Opens a fresh connection per
// query so it always sees the latest committed state. When the scenarios run on PostgreSQL
// (support/test_engine.hpp), `<data dir>/<service>.db` is that service's PostgreSQL database and
// the query runs there: the probes use SQL both engines accept.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/local_postgres.hpp"
#include "support/test_engine.hpp"

namespace rocketmart::testing {

inline std::string QueryText(const std::filesystem::path& db, const std::string& sql);

// A fresh connection that waits up to 5 s for the server's locks; the caller closes it.
inline sqlite3* OpenForTest(const std::filesystem::path& db, int flags) {
  sqlite3* conn = nullptr;
  if (sqlite3_open_v2(db.c_str(), &conn, flags, nullptr) != SQLITE_OK) {
    sqlite3_close(conn);
    throw std::runtime_error("cannot open " + db.string());
  }
  sqlite3_busy_timeout(conn, 5000);
  return conn;
}

inline std::int64_t QueryInt(const std::filesystem::path& db, const std::string& sql) {
  const std::string text = QueryText(db, sql);
  return text.empty() ? -1 : std::stoll(text);
}

inline std::string QueryText(const std::filesystem::path& db, const std::string& sql) {
  if (const auto pg = PostgresDatabaseFor(db)) return SharedLocalPostgres().QueryValue(*pg, sql);
  sqlite3* conn = OpenForTest(db, SQLITE_OPEN_READONLY);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(conn, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    const std::string message = sqlite3_errmsg(conn);
    sqlite3_close(conn);
    throw std::runtime_error("bad query: " + message);
  }
  std::string value;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(conn);
  return value;
}

// Writes behind the server's back, for fault-injection tests only (a row no code of this version
// would write). WAL lets it run beside the server's own writer; it waits for the write lock.
inline void ExecWrite(const std::filesystem::path& db, const std::string& sql) {
  if (const auto pg = PostgresDatabaseFor(db)) {
    SharedLocalPostgres().QueryValue(*pg, sql);
    return;
  }
  sqlite3* conn = OpenForTest(db, SQLITE_OPEN_READWRITE);
  char* error = nullptr;
  const int rc = sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(conn);
  if (rc != SQLITE_OK) throw std::runtime_error("exec failed: " + message);
}

}  // namespace rocketmart::testing

#include "infra/storage/sqlite.hpp"

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <utility>

namespace rocketmart::storage {
namespace {

// Error messages carry the SQL so operators can tell which statement failed; long statements are
// cut because migrations can be kilobytes.
std::string Describe(std::string_view context, std::string_view detail) {
  constexpr std::size_t kMaxContext = 200;
  std::string out(context.substr(0, kMaxContext));
  if (context.size() > kMaxContext) out += "...";
  out += ": ";
  out += detail;
  return out;
}

[[noreturn]] void ThrowFromDb(sqlite3* db, int rc, std::string_view context) {
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  // The connection's last error can be stale when rc came from elsewhere; trust rc's primary code.
  if ((code & 0xff) != (rc & 0xff)) code = rc;
  throw SqliteError(code, Describe(context, msg));
}

// Process-wide settings, applied once before the library initialises itself on the first open.
// Memory statistics make every sqlite3_malloc take one global mutex that all connections share;
// nothing here reads those statistics.
void ConfigureLibraryOnce() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

bool IsInMemoryPath(std::string_view path) noexcept {
  return path.empty() || path == ":memory:" || path.starts_with("file:");
}

SqliteError::SqliteError(int code, const std::string& message)
    : std::runtime_error("sqlite error " + std::to_string(code) + " (" + sqlite3_errstr(code) +
                         "): " + message),
      code_(code) {}

bool SqliteError::IsBusy() const noexcept {
  return PrimaryCode() == SQLITE_BUSY || PrimaryCode() == SQLITE_LOCKED;
}
bool SqliteError::IsFull() const noexcept {
  return PrimaryCode() == SQLITE_FULL;
}
bool SqliteError::IsConstraint() const noexcept {
  return PrimaryCode() == SQLITE_CONSTRAINT;
}

void ThrowIfError(sqlite3* db, int rc, std::string_view context) {
  if (rc != SQLITE_OK) ThrowFromDb(db, rc, context);
}

// --- Statement ---------------------------------------------------------------------------------

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), sql_(std::move(other.sql_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
  }
  return *this;
}

void Statement::CheckBind(int rc, int index) const {
  if (rc != SQLITE_OK) {
    ThrowFromDb(sqlite3_db_handle(stmt_), rc, sql_ + " [bind " + std::to_string(index) + "]");
  }
}

Statement& Statement::BindInt64(int index, std::int64_t value) {
  CheckBind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindDouble(int index, double value) {
  CheckBind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindText(int index, std::string_view value) {
  CheckBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const std::byte> value) {
  // A null data pointer would bind NULL rather than an empty blob.
  static constexpr std::byte kEmpty{};
  const void* data = value.empty() ? &kEmpty : value.data();
  CheckBind(sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT), index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  CheckBind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_);
  int code = sqlite3_extended_errcode(db);
  std::string msg = sqlite3_errmsg(db);
  // Reset now so a failed statement does not hold locks until its next use.
  sqlite3_reset(stmt_);
  if ((code & 0xff) != (rc & 0xff)) code = rc;
  throw SqliteError(code, Describe(sql_, msg));
}

void Statement::Reset() noexcept {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::Busy() const noexcept {
  return stmt_ != nullptr && sqlite3_stmt_busy(stmt_) != 0;
}

int Statement::ColumnCount() const noexcept {
  return sqlite3_column_count(stmt_);
}

bool Statement::IsNull(int column) const noexcept {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::Int64(int column) const noexcept {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::Double(int column) const noexcept {
  return sqlite3_column_double(stmt_, column);
}

std::string_view Statement::TextView(int column) const noexcept {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Statement::Text(int column) const {
  return std::string(TextView(column));
}

std::vector<std::byte> Statement::Blob(int column) const {
  const auto* data = static_cast<const std::byte*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return {data, data + sqlite3_column_bytes(stmt_, column)};
}

// --- Database ----------------------------------------------------------------------------------

Database::Database(const OpenOptions& options) : path_(options.path) {
  const bool in_memory = IsInMemoryPath(options.path);
  if (!options.read_only && !in_memory) {
    std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  // NOMUTEX: each connection is confined to one thread at a time, so SQLite's own per-connection
  // mutex would be pure overhead on the hot path.
  ConfigureLibraryOnce();
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw SqliteError(rc, Describe("open " + options.path, msg));
  }
  db_ = db;
  try {
    sqlite3_extended_result_codes(db_, 1);
    ThrowIfError(db_, sqlite3_busy_timeout(db_, options.busy_timeout_ms), "busy_timeout");
    if (!options.read_only) {
      Statement wal = Prepare("PRAGMA journal_mode=WAL");
      std::string mode = wal.Step() ? wal.Text(0) : std::string();
      if (mode != "wal" && !in_memory) {
        throw SqliteError(SQLITE_ERROR,
                          "cannot switch " + options.path + " to WAL (got '" + mode + "')");
      }
      Exec(options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                     : "PRAGMA synchronous=NORMAL");
      Exec("PRAGMA foreign_keys=ON");
    }
  } catch (...) {
    Close();
    throw;
  }
}

Database::~Database() {
  Close();
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::move(other.cache_)),
      wal_hook_(std::move(other.wal_hook_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
    wal_hook_ = std::move(other.wal_hook_);
  }
  return *this;
}

void Database::Close() noexcept {
  // Statements must be finalized before the connection, or close_v2 leaves a zombie connection.
  cache_.clear();
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Database::OnWalCommit(std::function<void(int log_pages)> hook) {
  wal_hook_ = std::make_unique<std::function<void(int)>>(std::move(hook));
  sqlite3_wal_hook(
      db_,
      [](void* context, sqlite3*, const char*, int log_pages) -> int {
        (*static_cast<std::function<void(int)>*>(context))(log_pages);
        return SQLITE_OK;
      },
      wal_hook_.get());
}

namespace {

CheckpointResult RunCheckpoint(sqlite3* db, int mode, const char* what) {
  CheckpointResult out;
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, mode, &out.log_pages, &out.copied_pages);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    out.busy = true;
    return out;
  }
  ThrowIfError(db, rc, what);
  return out;
}

}  // namespace

CheckpointResult Database::CheckpointPassive() {
  return RunCheckpoint(db_, SQLITE_CHECKPOINT_PASSIVE, "wal_checkpoint(PASSIVE)");
}

CheckpointResult Database::CheckpointTruncate() {
  return RunCheckpoint(db_, SQLITE_CHECKPOINT_TRUNCATE, "wal_checkpoint(TRUNCATE)");
}

void Database::Exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string.
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    int code = sqlite3_extended_errcode(db_);
    if ((code & 0xff) != (rc & 0xff)) code = rc;
    throw SqliteError(code, Describe(sql, msg));
  }
}

Statement Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) ThrowFromDb(db_, rc, sql);
  if (stmt == nullptr) throw SqliteError(SQLITE_MISUSE, Describe(sql, "empty statement"));
  return Statement(stmt, std::string(sql));
}

Statement& Database::Cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    Statement stmt = Prepare(sql);
    it = cache_.emplace(std::string(sql), std::move(stmt)).first;
  } else {
    it->second.Reset();
  }
  return it->second;
}

void Database::ResetCached() noexcept {
  for (auto& [sql, stmt] : cache_) {
    if (stmt.Busy()) stmt.Reset();
  }
}

std::int64_t Database::Changes() const noexcept {
  return sqlite3_changes64(db_);
}

std::int64_t Database::LastInsertRowId() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

bool Database::InTransaction() const noexcept {
  return sqlite3_get_autocommit(db_) == 0;
}

}  // namespace rocketmart::storage

// Thin RAII wrapper over the SQLite C API: one Database per connection, Statements prepared on it.
//
// Thread-safety: a Database and its Statements are used by one thread at a time (connections are
// opened with SQLITE_OPEN_NOMUTEX); different Databases may be used concurrently. Ownership: a
// Database owns its sqlite3* and its statement cache; a Statement owns its sqlite3_stmt* and must
// not outlive the Database it was prepared on. Every SQLite failure throws SqliteError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace rocketmart::storage {

// An infrastructure failure reported by SQLite. Callers above the storage layer normally let it
// propagate to the request boundary (5xx); IsBusy()/IsFull() exist for the few that can react.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message);

  // The extended result code (e.g. SQLITE_IOERR_FSYNC); PrimaryCode() strips the extension.
  int code() const noexcept { return code_; }
  int PrimaryCode() const noexcept { return code_ & 0xff; }
  bool IsBusy() const noexcept;
  bool IsFull() const noexcept;
  bool IsConstraint() const noexcept;

 private:
  int code_;
};

enum class Synchronous {
  kNormal,  // WAL + NORMAL: durable against process crashes, may lose the last commits on power
            // loss.
  kFull,    // fsync on every commit: a commit that returned survives power loss.
};

struct OpenOptions {
  std::string path;
  bool read_only = false;
  Synchronous synchronous = Synchronous::kFull;
  int busy_timeout_ms = 5000;
};

// True for paths SQLite keeps in memory (no file, hence no write-ahead log).
bool IsInMemoryPath(std::string_view path) noexcept;

// What one checkpoint did, in pages of the write-ahead log.
struct CheckpointResult {
  bool busy = false;  // Another connection was checkpointing; nothing was done.
  int log_pages = 0;
  int copied_pages = 0;
};

// A prepared statement. Bind indices are 1-based (SQLite's convention); column indices 0-based.
// A statement that has returned a row but was not stepped to completion keeps its connection's read
// snapshot open, so call Reset() when abandoning it early.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, std::string sql) noexcept : stmt_(stmt), sql_(std::move(sql)) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& BindInt64(int index, std::int64_t value);
  Statement& BindDouble(int index, double value);
  Statement& BindText(int index, std::string_view value);  // Copied: the view may die afterwards.
  Statement& BindBlob(int index, std::span<const std::byte> value);
  Statement& BindNull(int index);

  // Returns true when a row is available, false when the statement has finished.
  bool Step();
  // Rewinds the statement and clears its bindings, so a reused statement never sees stale values.
  void Reset() noexcept;
  bool Busy() const noexcept;

  int ColumnCount() const noexcept;
  bool IsNull(int column) const noexcept;
  std::int64_t Int64(int column) const noexcept;
  double Double(int column) const noexcept;
  std::string Text(int column) const;
  // Valid only until the next Step()/Reset(); saves a copy on hot paths.
  std::string_view TextView(int column) const noexcept;
  std::vector<std::byte> Blob(int column) const;

  const std::string& sql() const noexcept { return sql_; }
  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  void CheckBind(int rc, int index) const;

  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class Database {
 public:
  // Opens (creating the file and its parent directories unless read_only). A writable connection is
  // switched to WAL with foreign keys on; a read-only one must find an existing database.
  explicit Database(const OpenOptions& options);
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (DDL, BEGIN/COMMIT, pragmas).
  void Exec(std::string_view sql);
  Statement Prepare(std::string_view sql);
  // A statement prepared once per connection and reused, keyed by its exact SQL text. It is Reset()
  // (bindings cleared) before being returned. The reference stays valid until the Database dies.
  Statement& Cached(std::string_view sql);
  // Resets every cached statement a caller left mid-iteration, releasing pinned read snapshots.
  void ResetCached() noexcept;

  // Called after every commit of this connection with the write-ahead log's size in pages.
  // Replaces SQLite's own automatic checkpoint for this connection (see WalCheckpointer).
  void OnWalCommit(std::function<void(int log_pages)> hook);
  // A PASSIVE checkpoint: copies what no reader still needs into the database file without
  // waiting for, or blocking, readers and the writer.
  CheckpointResult CheckpointPassive();
  // A TRUNCATE checkpoint: waits (busy timeout) for readers and holds off the writer meanwhile,
  // copies the whole log, then cuts the log file to zero bytes. For a database at rest only.
  CheckpointResult CheckpointTruncate();

  std::int64_t Changes() const noexcept;
  std::int64_t LastInsertRowId() const noexcept;
  bool InTransaction() const noexcept;
  const std::string& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_; }

 private:
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  void Close() noexcept;

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>> cache_;
  // Heap-held so the address SQLite keeps stays valid when the Database is moved.
  std::unique_ptr<std::function<void(int)>> wal_hook_;
};

// Throws SqliteError built from the connection's last error when rc is not SQLITE_OK.
void ThrowIfError(sqlite3* db, int rc, std::string_view context);

}  // namespace rocketmart::storage

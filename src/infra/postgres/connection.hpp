// One PostgreSQL connection driven from an Asio event loop (docs/adr/0042-postgres-client.md).
//
// libpq runs in non-blocking mode; whenever it would block, the coroutine waits on the connection's
// socket with an Asio descriptor (`async_wait`) bound to the caller's executor, so a thread that
// waits for the database keeps serving its other connections. Every operation has a deadline:
// connecting (connect_timeout) and each query (the server's statement_timeout, set on the
// session, plus a grace period for a server that no longer answers at all). A connection that
// timed out on the client side or lost its server is broken() and must be dropped.
//
// Results carry a Result: the Errc says whether a retry may succeed (IsTransient): the server
// unreachable or restarting, a lost connection, a deadlock or a serialization failure →
// kUnavailable; the statement timeout → kTimeout; anything else (a bad statement, a violated
// constraint the adapter did not expect) → kInternal. The error's message is safe to show; the
// detail (SQLSTATE, server message) is logged and kept in last_sqlstate().
//
// Not thread-safe: one coroutine uses a connection at a time (the pool hands it out). Between
// uses it is Detach()ed from its executor, so the next user may run on another thread.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "infra/postgres/outbox_commits.hpp"

namespace rocketmart::postgres {

struct ConnectOptions {
  // libpq connection string ("host=/run/pg port=5432 dbname=catalog user=...", or a
  // postgresql:// URL).
  std::string conninfo;
  // The password, kept out of `conninfo` (which may be logged); empty = none (or libpq's own
  // sources: PGPASSWORD, ~/.pgpass).
  std::string password;
  std::chrono::milliseconds connect_timeout{2000};
  // The server cancels a statement after this (SET statement_timeout on the session); the client
  // gives up and drops the connection after this plus statement_grace.
  std::chrono::milliseconds statement_timeout{2000};
  std::chrono::milliseconds statement_grace{1000};
};

// True for the codes a retry may cure (kUnavailable, kTimeout, kOverloaded).
bool IsTransient(Errc code) noexcept;
bool IsTransient(const Error& error) noexcept;

// Text-format parameters $1, $2, ... of one statement.
class Params {
 public:
  Params& Add(std::int64_t v);
  Params& Add(std::string_view v);
  Params& Add(const char* v) { return Add(std::string_view(v)); }
  Params& Add(const std::string& v) { return Add(std::string_view(v)); }
  Params& Add(bool v);
  Params& AddNull();
  // A bytea parameter (binary data, sent in PostgreSQL's hex text form).
  Params& AddBytes(std::string_view bytes);
  template <class T>
  Params& Add(const std::optional<T>& v) {
    return v ? Add(*v) : AddNull();
  }
  std::size_t size() const { return values_.size(); }
  // For libpq: pointers into the stored values (nullptr = SQL NULL).
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows (or command status) of one statement. Owns the PGresult.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* result);
  int size() const;
  bool empty() const { return size() == 0; }
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  std::int64_t Int64(int row, int col) const;
  std::optional<std::int64_t> OptInt64(int row, int col) const;
  bool Bool(int row, int col) const;
  // A bytea column (decoded from the hex text form).
  std::string Bytes(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::shared_ptr<PGresult> result_;
};

// Params{a, b, c} in one call: MakeParams(member_id, product_id, "text").
template <class... Values>
Params MakeParams(const Values&... values) {
  Params p;
  (p.Add(values), ...);
  return p;
}

struct Statement {
  std::string sql;
  Params params;
  // The statement appends to the database's outbox: its transaction's commit is announced
  // (OutboxCommits).
  bool appends_outbox = false;
};

class Connection {
 public:
  // Connects within options.connect_timeout without blocking the caller's thread.
  static boost::asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(
      ConnectOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with parameters (extended protocol; text results).
  boost::asio::awaitable<Result<Rows>> Query(std::string_view sql, Params params);
  // Without parameters (no default argument: no temporary inside the caller's co_await).
  boost::asio::awaitable<Result<Rows>> Query(std::string_view sql);
  // One statement whose rows do not matter; returns how many rows it changed.
  boost::asio::awaitable<Result<std::int64_t>> Command(std::string_view sql, Params params);
  // A script of statements without parameters (simple protocol: DDL, BEGIN, COMMIT, ...).
  boost::asio::awaitable<Status> Execute(std::string_view sql);
  // Several statements sent at once in pipeline mode and answered in one round trip; they run as
  // one implicit transaction (all commit or none: the first error aborts the rest). Returns each
  // statement's rows, or the first error.
  boost::asio::awaitable<Result<std::vector<Rows>>> Pipeline(std::span<const Statement> statements);

  // True once the connection can no longer be used (lost, timed out, left inside a transaction).
  bool broken() const;
  // Checks, without blocking, that an idle connection's server has not closed it (a restarted
  // server sends a termination notice and closes the socket).
  bool LooksAlive();
  // The open transaction appended to the outbox: when it commits, OutboxCommits::For(this
  // database) announces it. Forgotten when a statement fails (the transaction cannot commit).
  void MarkOutboxAppend() { outbox_appended_ = true; }
  // The SQLSTATE of the last failed statement ("" when none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // Releases the socket from the executor it was last used on (the pool calls it on check-in).
  void Detach();

  PGconn* raw() { return conn_; }

 private:
  struct Io;
  Connection(PGconn* conn, ConnectOptions options);
  enum class Ready { kRead, kWrite, kTimedOut, kFailed };
  boost::asio::awaitable<Ready> Wait(bool read, bool write,
                                     std::chrono::steady_clock::time_point deadline);
  boost::asio::awaitable<void> Attach();
  boost::asio::awaitable<Status> Flush(std::chrono::steady_clock::time_point deadline);
  // Reads the next result (nullptr at the end of a query's results).
  boost::asio::awaitable<Result<PGresult*>> NextResult(
      std::chrono::steady_clock::time_point deadline);
  // Reads every result of the query just sent; keeps the last one; the first error wins.
  boost::asio::awaitable<Result<Rows>> Collect(std::chrono::steady_clock::time_point deadline);
  Error Fail(Errc code, std::string_view what);
  Error FromResult(const PGresult* result);
  std::chrono::steady_clock::time_point Deadline() const;
  // After each statement or pipeline: announces a commit that follows MarkOutboxAppend.
  void Settle(bool ok);
  // The name `sql` is prepared under on this connection ("" when it is not, or never will be).
  const std::string& PreparedName(const std::string& sql) const;
  // A name to prepare a statement of `params` parameters under now, after `pending` others of the
  // same pipeline, or "" (no parameters, or the cache is full). Only for a statement not prepared.
  std::string NewPreparedName(std::size_t params, std::size_t pending) const;
  // Sends one statement: EXECUTE of its prepared name, after a Parse of it when `prepare` is set;
  // the unnamed statement when `name` is "". False when libpq refused to queue it.
  bool SendStatement(const std::string& sql, const Params& params, const std::string& name,
                     bool prepare);

  PGconn* conn_ = nullptr;
  ConnectOptions options_;
  std::unique_ptr<Io> io_;
  bool broken_ = false;
  bool outbox_appended_ = false;
  std::shared_ptr<OutboxCommits> outbox_commits_;  // of this database
  std::string last_sqlstate_;
  // Statements with parameters are prepared once per connection (named, on first use) and then
  // only bound and executed: the server parses, analyses and plans them once instead of on every
  // call (a third of the server's CPU in issue 15's drop went to that). Bounded: past
  // kMaxPrepared distinct statements, the rest go unnamed as before.
  static constexpr std::size_t kMaxPrepared = 256;
  std::unordered_map<std::string, std::string> prepared_;
};

// Refuses a server that does not make commits durable (battery H4): fsync off, or
// synchronous_commit off for this session. The error names the setting.
boost::asio::awaitable<Status> CheckDurable(Connection& connection);

}  // namespace rocketmart::postgres

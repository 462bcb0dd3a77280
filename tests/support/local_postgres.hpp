// A real PostgreSQL server for the tests that need one (the postgres_* tests, the contract suites'
// PostgreSQL instantiations): `initdb` into a TempDir, the server started as a child of the test
// process on a unix socket in that directory and a free TCP port on 127.0.0.1 (never a fixed
// port), with fsync and synchronous_commit on. Nothing shared with the machine: no system cluster,
// no fixed port, no password.
//
// As root (CI) initdb and postgres run as the `postgres` user the Debian package creates (they
// refuse root); otherwise as the current user. The postmaster is started with a parent-death
// signal (SIGKILL), so a test binary that crashes or is killed takes its server with it (the
// backends exit when they notice their postmaster died); a clean end stops it (fast shutdown) and
// removes the directory. What a crash leaves: the directory /tmp/rocketmart-pg-* (and, after a
// SIGKILL, PostgreSQL's small SysV interlock segment). The parent-death signal follows the thread
// that called Start(): call it from a thread that outlives the server (the test's main thread).
//
// Start-up costs ~1 s (initdb --no-sync: the cluster's template files are not fsynced; the server
// itself runs with fsync=on). A fresh database per test (CreateDatabase, ~20 ms) keeps tests
// independent without a server per test: SharedLocalPostgres() is one server per test binary.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/temp_dir.hpp"

namespace rocketmart::testing {

class LocalPostgres {
 public:
  struct Options {
    // Extra server settings (`-c name=value`), after the defaults, so they win (e.g. fsync=off
    // to test that the service refuses it).
    std::vector<std::pair<std::string, std::string>> settings;
    int max_connections = 200;
  };

  LocalPostgres();  // initdb, then Start()
  explicit LocalPostgres(Options options);
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  // Starts the server on the existing data directory (after Stop or Kill9) and waits until it
  // accepts connections. The TCP port stays the same.
  void Start();
  // Fast shutdown (SIGINT), waits for the postmaster to exit.
  void Stop();
  // SIGKILL to the postmaster (a crash); its backends exit on their own. Start() recovers.
  void Kill9();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  int port() const { return port_; }
  const std::string& socket_dir() const { return socket_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  // libpq key=value connection strings for database `db` (user rocketmart, no password): over
  // the unix socket, or over TCP to 127.0.0.1:port().
  std::string ConnectionString(std::string_view db = "postgres") const;
  std::string TcpConnectionString(std::string_view db = "postgres") const;

  // Creates database `name` (a plain identifier) and returns its connection string.
  std::string CreateDatabase(std::string_view name);
  // Creates a database with a fresh name starting with `prefix` and returns its name.
  std::string NewDatabase(std::string_view prefix = "t");
  // Runs `sql` in database `db` over a blocking connection and returns the first column of the
  // first row ("" when there is none). For test assertions and set-up, not for code under test.
  std::string QueryValue(std::string_view db, std::string_view sql) const;
  // The end of the server's log (for failure messages).
  std::string LogTail(std::size_t bytes = 4000) const;

 private:
  void InitDb();
  bool TryStart(std::string& why);

  Options options_;
  TempDir dir_{"pg"};
  std::string data_dir_;
  std::string socket_dir_;
  std::string log_path_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::atomic<int> next_database_{0};
};

// One server per test binary, started on first use (from the test's main thread) and stopped at
// exit.
LocalPostgres& SharedLocalPostgres();

}  // namespace rocketmart::testing

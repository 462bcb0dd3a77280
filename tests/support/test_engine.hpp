// Which storage engine the end-to-end scenarios run the services on. The same e2e test binaries
// run twice (tests/e2e/CMakeLists.txt): as they are (every service on SQLite in its data
// directory, the embedded default) and with ROCKETMART_TEST_ENGINE=postgres, where each server's
// members, catalog, checkout and orders each get a fresh database of their own on the test
// binary's PostgreSQL (SharedLocalPostgres) through `[<service>.database] url`, exactly as an
// operator would configure them (docs/postgres.md). The checkout's simulated payment provider
// stands for an external system and keeps its SQLite ledger in the data directory.
//
// A data directory names its databases: a server restarted on the same data directory (Restart,
// or a second ServerProcess given that directory) finds the same databases, as a restarted
// process finds its configured databases. The read-only probes of support/db_probe.hpp follow the
// same map, so `<data dir>/checkout.db` means checkout's PostgreSQL database in that mode.
//
// With ROCKETMART_TEST_REDIS=1 as well (the `_redis` variants, issue 14), every server also gets
// the test binary's redis-server (SharedLocalRedis, one per test binary): redis.url, a key prefix
// of its own per data directory (servers never share counters or streams; a restart on the same
// directory finds its own) and events.transport = redis-streams, so admission, throttles, the
// deny-list and the event bus all run through Redis.
//
// The first call in PostgreSQL mode starts the server (about a second); make it from the test's
// main thread (LocalPostgres ties its server's life to the thread that started it).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace rocketmart::testing {

// True when the scenarios run on PostgreSQL (ROCKETMART_TEST_ENGINE=postgres).
bool OnPostgres();
// True when the servers also use Redis (ROCKETMART_TEST_REDIS=1).
bool WithRedis();

// The environment that points a server on `data_dir` at its databases: empty on SQLite;
// ROCKETMART_<SERVICE>_DATABASE_URL for the four services on PostgreSQL (created on first use).
std::map<std::string, std::string> EngineEnv(const std::filesystem::path& data_dir);

// Throws unless a server started on `data_dir` really keeps its services where the engine says:
// on PostgreSQL, each service's database has its tables and no `<service>.db` SQLite file exists
// in the data directory (a server that ignored its database URL would otherwise pass every
// scenario on SQLite). Nothing to check on SQLite. With Redis: its admission epoch and the
// services' event streams exist under the server's key prefix.
void CheckServerEngine(const std::filesystem::path& data_dir);

// A local cluster's folder (ServerProcess with ROCKETMART_TEST_TOPOLOGY=cluster) and the
// configuration its processes got: EngineEnv of that folder is `env` (a command run with
// `--data-dir` it reaches the cluster's databases with its keys), and `<folder>/<service>.db` is
// the service's PostgreSQL database named in `env`.
void RegisterClusterDataDir(const std::filesystem::path& dir,
                            const std::map<std::string, std::string>& env);

// `<data dir>/<service>.db` of a data directory served on PostgreSQL: that service's database
// name on SharedLocalPostgres() (provider.db: checkout's, which holds the simulated provider's
// ledger there). nullopt for SQLite files.
std::optional<std::string> PostgresDatabaseFor(const std::filesystem::path& db_file);

}  // namespace rocketmart::testing

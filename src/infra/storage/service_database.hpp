// One service's SQLite database, as a module owns it: its single group-commit writer (checked by
// a real committed write when it opens, then migrated), its read-only connections, and their
// metrics (`db_writer_*`, `db_wal_*`, labelled db="<name>"). The event bus uses the same writer and
// readers for the database's outbox and for the consumer side (positions, claims, dead letters).
//
// Lifecycle: the constructor opens, probes and migrates (throws std::runtime_error naming the
// store and the file when it cannot write); the owner starts the writer (`writer->Start()`) before
// anything loads through it and stops it last, after everything that writes through it stopped.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::storage {

class ServiceDatabase {
 public:
  // <storage.data_dir>/<name>.db with storage.synchronous, unless `synchronous` overrides it.
  ServiceDatabase(const std::string& name, const config::StorageConfig& config,
                  std::span<const Migration> migrations, metrics::Registry& metrics,
                  std::optional<Synchronous> synchronous = std::nullopt);

  // Whether the store can write now. A writer whose last transaction failed is probed again (one
  // committed write), so a store that recovered reads healthy even when no request writes to it; a
  // healthy one costs nothing.
  boost::asio::awaitable<bool> CheckWritable();

  // The first column of the first row of `sql` (?1 bound to `arg` when given) on this thread's
  // reader, as a number: 0 for no row or NULL, NaN when the read fails. For scrape-time gauges.
  double ReadNumber(std::string_view sql, std::optional<std::int64_t> arg = std::nullopt,
                    std::optional<std::string_view> text = std::nullopt);

  std::string name;
  std::unique_ptr<GroupCommitWriter> writer;
  std::unique_ptr<ReadConnections> readers;
};

}  // namespace rocketmart::storage

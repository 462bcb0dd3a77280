#include "infra/storage/service_database.hpp"

#include <exception>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "infra/async/write.hpp"
#include "infra/storage/write_probe.hpp"

namespace rocketmart::storage {

ServiceDatabase::ServiceDatabase(const std::string& name, const config::StorageConfig& config,
                                 std::span<const Migration> migrations, metrics::Registry& metrics,
                                 std::optional<Synchronous> synchronous)
    : name(name) {
  OpenOptions open;
  open.path = (std::filesystem::path(config.data_dir) / (name + ".db")).string();
  open.synchronous = config.synchronous == "normal" ? Synchronous::kNormal : Synchronous::kFull;
  if (synchronous) open.synchronous = *synchronous;
  const auto checkpoint_pages = static_cast<std::size_t>(config.checkpoint_pages);
  try {
    writer = std::make_unique<GroupCommitWriter>(
        open, GroupCommitWriter::Options{
                  .max_batch = static_cast<std::size_t>(config.writer_max_batch),
                  .max_queue = static_cast<std::size_t>(config.writer_queue),
                  .checkpoint = WalCheckpointerOptions{.background_pages = checkpoint_pages,
                                                       .inline_pages = 16 * checkpoint_pages}});
    // SQLite opens a file it may not write read-only, and reads keep working: only a real
    // committed write proves the store can take a purchase.
    ProbeWrite(writer->Connection());
  } catch (const SqliteError& e) {
    throw std::runtime_error("store " + name + " cannot write " + open.path + " (" + e.what() +
                             "); check the data directory's owner, permissions and free space");
  }
  Migrate(writer->Connection(), migrations);
  open.read_only = true;
  readers = std::make_unique<ReadConnections>(open);
  const std::string labels = "db=\"" + name + "\"";
  GroupCommitWriter* w = writer.get();
  metrics.AddGauge("db_writer_queue_depth", "Write jobs waiting for the writer", labels,
                   [w] { return static_cast<double>(w->QueueDepth()); });
  metrics.AddCounterFn("db_writer_batches_total", "Transactions committed by the writer", labels,
                       [w] { return w->BatchesCommitted(); });
  metrics.AddCounterFn("db_writer_jobs_total", "Write jobs committed", labels,
                       [w] { return w->JobsCommitted(); });
  metrics.AddCounterFn("db_writer_failures_total",
                       "Write transactions that failed to commit (read-only or full disk, I/O)",
                       labels, [w] { return w->CommitFailures(); });
  metrics.AddCounterFn("db_wal_checkpoints_total",
                       "Write-ahead log checkpoints by the background thread", labels,
                       [w] { return w->BackgroundCheckpoints(); });
  metrics.AddCounterFn("db_wal_inline_checkpoints_total",
                       "Checkpoints the writer ran itself because the log passed its limit", labels,
                       [w] { return w->InlineCheckpoints(); });
  metrics.AddCounterFn("db_wal_truncations_total",
                       "Times the log file was cut back to zero bytes once writes came to rest",
                       labels, [w] { return w->LogTruncations(); });
}

boost::asio::awaitable<bool> ServiceDatabase::CheckWritable() {
  if (writer->Failing()) {
    auto probe = [](Database& conn) -> Result<bool> {
      WriteProbeRow(conn);
      return true;
    };
    try {
      const Result<bool> probed = co_await async::Write<bool>(*writer, std::move(probe));
      (void)probed;  // Failing() now tells the outcome.
    } catch (const std::exception&) {
      // Still failing: reported below.
    }
  }
  co_return !writer->Failing();
}

double ServiceDatabase::ReadNumber(std::string_view sql, std::optional<std::int64_t> arg,
                                   std::optional<std::string_view> text) {
  try {
    Statement& statement = readers->ForThisThread().Cached(sql);
    if (arg) statement.BindInt64(1, *arg);
    if (text) statement.BindText(1, *text);
    const double value =
        statement.Step() && !statement.IsNull(0) ? static_cast<double>(statement.Int64(0)) : 0.0;
    statement.Reset();
    return value;
  } catch (const std::exception&) {
    return std::numeric_limits<double>::quiet_NaN();
  }
}

}  // namespace rocketmart::storage

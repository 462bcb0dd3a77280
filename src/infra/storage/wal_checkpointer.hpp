// Copies a database's write-ahead log back into the database file on a thread of its own, so
// the writer thread never stops for it under load.
//
// SQLite's default checkpoints inside the COMMIT that brings the log to 1000 pages: on the one
// writer thread that every write of the service waits for, with two fsyncs under
// synchronous=FULL, and often enough that the same hot pages (a product's stock row, the right
// edge of each table) are copied again and again. Here the writer only reports the log's size
// after each commit; past `background_pages` this thread runs a PASSIVE checkpoint on its own
// connection, which neither waits for nor blocks the writer or the readers. Should the log
// still reach `inline_pages` (checkpoints not keeping up, or a long read pinning old pages),
// the writer checkpoints itself, so the file stays bounded.
//
// The log file keeps its high-water size (SQLite reuses it from the start rather than shrinking
// it): ~100 MB for checkout.db after a drop at 256 connections. Truncating it whenever the log
// starts over (journal_size_limit) cost ~4% of durable orders under load, measured, so instead
// this thread gives the space back once the database is at rest: `idle_truncate_after` without a
// commit, with a file past `background_pages`, it runs one TRUNCATE checkpoint.
//
// Thread-safety: NoteLogSize is called by the writer thread; Start/Stop by the owner; the
// counters from anywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "infra/storage/sqlite.hpp"

namespace rocketmart::storage {

struct WalCheckpointerOptions {
  std::size_t background_pages = 4000;  // 16 MiB of 4 KiB pages.
  std::size_t inline_pages = 64000;
  std::chrono::milliseconds idle_truncate_after{2000};
};

class WalCheckpointer {
 public:
  using Options = WalCheckpointerOptions;

  // Opens nothing yet: the database file must exist (the writer creates it) before Start().
  WalCheckpointer(OpenOptions open, Options options);
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  void Start();
  // Joins the thread; a checkpoint in progress is finished first. Idempotent.
  void Stop();

  enum class Action { kNone, kCheckpointInline };
  // The writer's report after a commit. kCheckpointInline: the log is past inline_pages and the
  // writer should checkpoint on its own connection now.
  Action NoteLogSize(std::size_t log_pages) noexcept;

  std::uint64_t Checkpoints() const noexcept { return checkpoints_.load(kRelaxed); }
  // Log files cut back to zero bytes after the database came to rest.
  std::uint64_t Truncations() const noexcept { return truncations_.load(kRelaxed); }

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
  static constexpr int kTruncateAttempts = 5;  // Per burst, one idle period apart.

  void Run();
  void CheckpointInBackground();
  // Once idle after a burst: the log file back to zero bytes if it grew past background_pages.
  // False when the checkpoint was busy and should be tried again later.
  bool TruncateIfLarge();

  OpenOptions open_;
  const Options options_;
  std::optional<Database> db_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool checkpoint_requested_ = false;  // The log passed background_pages.
  bool watch_requested_ = false;       // The log passed inline_pages: the writer checkpoints.
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<std::uint64_t> commits_{0};  // Reported commits: the activity the idle timer watches.
  std::atomic<std::uint64_t> checkpoints_{0};
  std::atomic<std::uint64_t> truncations_{0};
};

}  // namespace rocketmart::storage

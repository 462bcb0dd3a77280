// The single writer of one SQLite database: many small write jobs, few transactions.
//
// Request threads TrySubmit() jobs; one writer thread takes up to max_batch of them, runs each in
// its own SAVEPOINT inside one BEGIN IMMEDIATE ... COMMIT, and only then calls every job's Done.
// With synchronous=FULL that means "answered" implies "durable", at the cost of one fsync per batch
// rather than per request. A throwing job rolls back only its own writes.
//
// Thread-safety: TrySubmit, RunSync, AddCommitListener, RemoveCommitListener and the counters may
// be called from any thread. Jobs, Done callbacks and commit listeners run on the writer thread and
// must not call RunSync (it would wait for itself). Ownership: the writer owns its connection; jobs
// get a Database& valid only during the call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "infra/storage/sqlite.hpp"
#include "infra/storage/wal_checkpointer.hpp"

namespace rocketmart::storage {

struct GroupCommitWriterOptions {
  std::size_t max_batch = 512;
  std::size_t max_queue = 65536;
  // Who copies the write-ahead log into the database file; nullopt leaves it to SQLite's
  // automatic checkpoint inside COMMIT. Ignored for in-memory databases.
  std::optional<WalCheckpointerOptions> checkpoint = WalCheckpointerOptions{};
};

// Thrown by RunSync when the queue is full or the writer is stopped: the caller should answer
// "overloaded"/"unavailable" rather than retry in a loop.
class WriterUnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GroupCommitWriter {
 public:
  using Options = GroupCommitWriterOptions;
  using Job = std::function<void(Database&)>;
  // Receives nullptr when the job's writes committed, otherwise why they did not. Must not throw.
  using Done = std::function<void(std::exception_ptr)>;
  using ListenerId = std::uint64_t;

  // Opens the write connection (WAL, read_only forced off); the thread starts in Start().
  explicit GroupCommitWriter(OpenOptions open, Options options = {});
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  void Start();
  // Commits everything already queued, then joins. Idempotent. If Start() was never called the
  // queued jobs are run on the calling thread so none is silently dropped.
  void Stop();

  // Never blocks: false when the queue already holds max_queue jobs or the writer is stopping, in
  // which case Done is not called. Jobs submitted before Start() wait for it.
  bool TrySubmit(Job job, Done done);
  // Submits and waits for the commit; rethrows the job's (or the transaction's) exception.
  void RunSync(Job job);

  // Called on the writer thread after every successful COMMIT. Must be quick and must not throw.
  ListenerId AddCommitListener(std::function<void()> listener);
  // After this returns the listener is not running and will not be called again.
  void RemoveCommitListener(ListenerId id);

  // Direct access to the write connection for startup work such as Migrate(). Only valid while
  // the writer thread is not running (before Start() or after Stop()); throws std::logic_error
  // otherwise.
  Database& Connection();

  std::uint64_t BatchesCommitted() const noexcept { return batches_committed_.load(kRelaxed); }
  std::uint64_t JobsCommitted() const noexcept { return jobs_committed_.load(kRelaxed); }
  std::uint64_t JobsFailed() const noexcept { return jobs_failed_.load(kRelaxed); }
  // Transactions that could not commit (read-only or full disk, I/O error, a lock held too long):
  // every job of such a batch failed with it.
  std::uint64_t CommitFailures() const noexcept { return commit_failures_.load(kRelaxed); }
  // Whether the last transaction failed to commit; a later successful commit clears it.
  bool Failing() const noexcept { return failing_.load(kRelaxed); }
  std::size_t QueueDepth() const noexcept { return queue_depth_.load(kRelaxed); }
  std::uint64_t BackgroundCheckpoints() const noexcept {
    return checkpointer_ ? checkpointer_->Checkpoints() : 0;
  }
  std::uint64_t InlineCheckpoints() const noexcept { return inline_checkpoints_.load(kRelaxed); }
  std::uint64_t LogTruncations() const noexcept {
    return checkpointer_ ? checkpointer_->Truncations() : 0;
  }
  const std::string& path() const noexcept { return db_.path(); }

 private:
  static constexpr std::memory_order kRelaxed = std::memory_order_relaxed;

  struct Item {
    Job job;
    Done done;
  };

  void Run();
  // Takes the next batch; returns false when stopping and nothing is left.
  bool NextBatch(std::vector<Item>& batch);
  void CommitBatch(std::vector<Item>& batch);
  void NotifyListeners() noexcept;
  void AfterWalCommit(int log_pages) noexcept;

  Database db_;
  const Options options_;
  std::unique_ptr<WalCheckpointer> checkpointer_;

  std::mutex stop_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool started_ = false;
  bool stopping_ = false;
  std::thread thread_;

  // Held while listeners run, so RemoveCommitListener() can promise the listener is no longer used.
  std::mutex listeners_mu_;
  std::vector<std::pair<ListenerId, std::function<void()>>> listeners_;
  ListenerId next_listener_id_ = 1;

  std::atomic<std::uint64_t> batches_committed_{0};
  std::atomic<std::uint64_t> jobs_committed_{0};
  std::atomic<std::uint64_t> jobs_failed_{0};
  std::atomic<std::uint64_t> commit_failures_{0};
  std::atomic<bool> failing_{false};
  std::atomic<std::size_t> queue_depth_{0};
  std::atomic<std::uint64_t> inline_checkpoints_{0};
};

}  // namespace rocketmart::storage

#include "infra/storage/group_commit_writer.hpp"

#include <filesystem>
#include <future>
#include <utility>

#include "core/thread_name.hpp"

namespace rocketmart::storage {
namespace {

// Which writer (if any) owns the current thread; lets RunSync refuse to wait for itself.
thread_local const GroupCommitWriter* tls_current_writer = nullptr;

OpenOptions Writable(OpenOptions open) {
  open.read_only = false;
  return open;
}

void CallDone(const GroupCommitWriter::Done& done, std::exception_ptr error) noexcept {
  if (!done) return;
  try {
    done(std::move(error));
  } catch (...) {
    // A throwing Done must not take the writer (and every other caller's commits) down with it.
  }
}

}  // namespace

GroupCommitWriter::GroupCommitWriter(OpenOptions open, Options options)
    : db_(Writable(open)), options_(options) {
  if (options_.max_batch == 0 || options_.max_queue == 0) {
    throw std::invalid_argument("GroupCommitWriter: max_batch and max_queue must be positive");
  }
  if (options_.checkpoint && !IsInMemoryPath(open.path)) {
    checkpointer_ = std::make_unique<WalCheckpointer>(open, *options_.checkpoint);
    db_.OnWalCommit([this](int log_pages) { AfterWalCommit(log_pages); });
  }
}

GroupCommitWriter::~GroupCommitWriter() {
  Stop();
}

void GroupCommitWriter::Start() {
  std::lock_guard lock(mu_);
  if (stopping_) throw std::logic_error("GroupCommitWriter: Start() after Stop()");
  if (started_) return;
  started_ = true;
  if (checkpointer_) checkpointer_->Start();
  thread_ = std::thread([this] {
    NameThisThread("w:" + std::filesystem::path(db_.path()).stem().string());
    Run();
  });
}

void GroupCommitWriter::Stop() {
  std::lock_guard stop_lock(stop_mu_);  // Two concurrent Stop() calls must not both join.
  bool run_inline = false;
  {
    std::lock_guard lock(mu_);
    run_inline = !started_ && !stopping_;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  } else if (run_inline) {
    Run();
  }
  if (checkpointer_) checkpointer_->Stop();
}

bool GroupCommitWriter::TrySubmit(Job job, Done done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) return false;
    queue_.push_back(Item{std::move(job), std::move(done)});
    queue_depth_.store(queue_.size(), kRelaxed);
  }
  cv_.notify_one();
  return true;
}

void GroupCommitWriter::RunSync(Job job) {
  if (tls_current_writer == this) {
    throw std::logic_error("GroupCommitWriter::RunSync called from its own writer thread");
  }
  {
    std::lock_guard lock(mu_);
    if (!started_ && !stopping_) {
      throw std::logic_error("GroupCommitWriter::RunSync before Start() would wait forever");
    }
  }
  std::promise<void> committed;
  std::future<void> result = committed.get_future();
  bool accepted = TrySubmit(std::move(job), [&committed](std::exception_ptr error) {
    if (error) {
      committed.set_exception(std::move(error));
    } else {
      committed.set_value();
    }
  });
  if (!accepted) {
    throw WriterUnavailableError("writer for " + db_.path() + " is overloaded or stopped");
  }
  result.get();
}

GroupCommitWriter::ListenerId GroupCommitWriter::AddCommitListener(std::function<void()> listener) {
  std::lock_guard lock(listeners_mu_);
  ListenerId id = next_listener_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void GroupCommitWriter::RemoveCommitListener(ListenerId id) {
  std::lock_guard lock(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
}

Database& GroupCommitWriter::Connection() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) {
    throw std::logic_error("GroupCommitWriter::Connection() while the writer thread owns it");
  }
  return db_;
}

bool GroupCommitWriter::NextBatch(std::vector<Item>& batch) {
  batch.clear();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;  // Stopping and drained.
  const std::size_t n = std::min(queue_.size(), options_.max_batch);
  batch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queue_depth_.store(queue_.size(), kRelaxed);
  return true;
}

void GroupCommitWriter::Run() {
  tls_current_writer = this;
  std::vector<Item> batch;
  while (NextBatch(batch)) CommitBatch(batch);
  tls_current_writer = nullptr;
}

namespace {
void StepOnce(Statement& statement) {
  statement.Step();
  statement.Reset();
}
}  // namespace

void GroupCommitWriter::CommitBatch(std::vector<Item>& batch) {
  std::vector<std::exception_ptr> results(batch.size());
  std::exception_ptr batch_error;
  try {
    db_.Exec("BEGIN IMMEDIATE");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      // Prepared once and reused: two statements per job would otherwise be parsed per job.
      StepOnce(db_.Cached("SAVEPOINT job"));
      try {
        batch[i].job(db_);
        StepOnce(db_.Cached("RELEASE job"));
      } catch (...) {
        results[i] = std::current_exception();
        if (!db_.InTransaction()) {
          // SQLite rolled the whole transaction back (disk full, I/O error): the batch-mates'
          // writes are gone too, so they all get this error.
          throw;
        }
        db_.Exec("ROLLBACK TO job; RELEASE job");
      }
    }
    // Statements left mid-iteration by jobs would otherwise keep a read snapshot pinned.
    db_.ResetCached();
    db_.Exec("COMMIT");
  } catch (...) {
    batch_error = std::current_exception();
    db_.ResetCached();
    if (db_.InTransaction()) {
      try {
        db_.Exec("ROLLBACK");
      } catch (...) {
        // Nothing more to do: the connection reports the transaction state on the next BEGIN.
      }
    }
  }

  if (batch_error) {
    commit_failures_.fetch_add(1, kRelaxed);
    failing_.store(true, kRelaxed);
    jobs_failed_.fetch_add(batch.size(), kRelaxed);
    for (Item& item : batch) CallDone(item.done, batch_error);
    return;
  }
  std::uint64_t failed = 0;
  for (const auto& r : results) failed += r ? 1 : 0;
  batches_committed_.fetch_add(1, kRelaxed);
  failing_.store(false, kRelaxed);
  jobs_committed_.fetch_add(batch.size() - failed, kRelaxed);
  jobs_failed_.fetch_add(failed, kRelaxed);
  for (std::size_t i = 0; i < batch.size(); ++i) CallDone(batch[i].done, results[i]);
  NotifyListeners();
}

void GroupCommitWriter::AfterWalCommit(int log_pages) noexcept {
  if (checkpointer_->NoteLogSize(static_cast<std::size_t>(log_pages)) !=
      WalCheckpointer::Action::kCheckpointInline) {
    return;
  }
  try {
    if (!db_.CheckpointPassive().busy) inline_checkpoints_.fetch_add(1, kRelaxed);
  } catch (...) {
    // The commit itself succeeded; the next commit tries again.
  }
}

void GroupCommitWriter::NotifyListeners() noexcept {
  std::lock_guard lock(listeners_mu_);
  for (auto& [id, listener] : listeners_) {
    try {
      listener();
    } catch (...) {
      // Listeners are wake-up hints; a failing one must not affect commits.
    }
  }
}

}  // namespace rocketmart::storage

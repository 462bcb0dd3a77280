#include "infra/storage/wal_checkpointer.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>
#include <utility>

#include "core/thread_name.hpp"

namespace rocketmart::storage {

WalCheckpointer::WalCheckpointer(OpenOptions open, Options options)
    : open_(std::move(open)), options_(options) {
  open_.read_only = false;  // Copying pages into the database file is a write.
  if (options_.background_pages == 0 || options_.inline_pages <= options_.background_pages) {
    throw std::invalid_argument("WalCheckpointer: need 0 < background_pages < inline_pages");
  }
}

WalCheckpointer::~WalCheckpointer() {
  Stop();
}

void WalCheckpointer::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  db_.emplace(open_);
  thread_ = std::thread([this] {
    NameThisThread("ckpt:" + std::filesystem::path(open_.path).stem().string());
    Run();
  });
}

void WalCheckpointer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  db_.reset();
}

WalCheckpointer::Action WalCheckpointer::NoteLogSize(std::size_t log_pages) noexcept {
  commits_.fetch_add(1, kRelaxed);
  if (log_pages < options_.background_pages) return Action::kNone;
  // Past the inline limit the writer checkpoints itself; a background checkpoint started now
  // would only hold the checkpoint lock against it. The thread is still woken, to watch for the
  // end of the burst and give the file back.
  const bool inline_due = log_pages >= options_.inline_pages;
  {
    std::lock_guard lock(mu_);
    (inline_due ? watch_requested_ : checkpoint_requested_) = true;
  }
  cv_.notify_one();
  return inline_due ? Action::kCheckpointInline : Action::kNone;
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mu_);
  // The log file may be large only after a burst: watch for writes coming to rest only then, so an
  // idle database's thread sleeps without waking.
  bool watching = false;
  std::uint64_t commits_seen = 0;
  int truncate_attempts = 0;
  const auto woken = [this] { return checkpoint_requested_ || watch_requested_ || stopping_; };
  while (true) {
    if (!watching) {
      cv_.wait(lock, woken);
    } else if (!cv_.wait_for(lock, options_.idle_truncate_after, woken)) {
      const std::uint64_t commits = commits_.load(kRelaxed);
      if (commits != commits_seen) {  // Still busy: look again one idle period later.
        commits_seen = commits;
        continue;
      }
      lock.unlock();
      const bool busy = !TruncateIfLarge();
      lock.lock();
      // Busy: the writer's own checkpoint or a reader still held the log. Try again one idle
      // period later, a few times, rather than leave the file large until the next burst.
      watching = busy && ++truncate_attempts < kTruncateAttempts;
      continue;
    }
    if (stopping_) return;
    const bool checkpoint = std::exchange(checkpoint_requested_, false);
    watch_requested_ = false;
    if (checkpoint) {
      lock.unlock();
      CheckpointInBackground();
      lock.lock();
    }
    watching = true;
    truncate_attempts = 0;
    commits_seen = commits_.load(kRelaxed);
  }
}

void WalCheckpointer::CheckpointInBackground() {
  try {
    if (!db_->CheckpointPassive().busy) checkpoints_.fetch_add(1, kRelaxed);
  } catch (const std::exception& e) {
    // The log keeps growing until a later attempt (or the writer's inline one) succeeds.
    spdlog::warn("checkpoint of {} failed: {}", open_.path, e.what());
  }
}

bool WalCheckpointer::TruncateIfLarge() {
  std::error_code ec;
  const std::uintmax_t log_bytes = std::filesystem::file_size(open_.path + "-wal", ec);
  // 4 KiB pages are the default; a database with larger ones is simply truncated a bit sooner.
  if (ec || log_bytes <= options_.background_pages * 4096) return true;
  try {
    if (db_->CheckpointTruncate().busy) return false;
    truncations_.fetch_add(1, kRelaxed);
  } catch (const std::exception& e) {
    spdlog::warn("truncating the log of {} failed: {}", open_.path, e.what());
  }
  return true;
}

}  // namespace rocketmart::storage

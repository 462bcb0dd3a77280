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
  if (log_pages >= options_.inline_pages) return Action::kCheckpointInline;
  if (log_pages >= options_.background_pages) {
    {
      std::lock_guard lock(mu_);
      requested_ = true;
    }
    cv_.notify_one();
  }
  return Action::kNone;
}

void WalCheckpointer::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    try {
      if (!db_->CheckpointPassive().busy) checkpoints_.fetch_add(1, kRelaxed);
    } catch (const std::exception& e) {
      // The log keeps growing until a later attempt (or the writer's inline one) succeeds.
      spdlog::warn("checkpoint of {} failed: {}", open_.path, e.what());
    }
    lock.lock();
  }
}

}  // namespace rocketmart::storage

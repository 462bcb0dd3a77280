// Test-only helpers for the storage tests: a fresh temporary directory per test and a latch.
//
// Not thread-safe beyond what each helper states; owned by the test that creates it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>

namespace rocketmart::storage::testing {

// Created empty, removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "rocketmart-storage-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A one-shot gate that writer jobs can block on. Thread-safe.
class Gate {
 public:
  void Open() {
    // Notified under the lock so a waiter cannot return and destroy the gate mid-notify.
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Generous timeout so a bug fails the test instead of hanging it.
  bool Wait(std::chrono::seconds timeout = std::chrono::seconds{30}) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts events and lets a test wait for a total. Thread-safe.
class Counter {
 public:
  void Add(int n = 1) {
    std::lock_guard lock(mu_);  // See Gate::Open.
    count_ += n;
    cv_.notify_all();
  }
  bool WaitFor(int at_least, std::chrono::seconds timeout = std::chrono::seconds{60}) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return count_ >= at_least; });
  }
  int value() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

}  // namespace rocketmart::storage::testing

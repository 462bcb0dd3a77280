// Blocking latches for tests that coordinate threads (condition variables, not polling). Each wait
// is bounded so that a bug fails the test instead of hanging it. Where no timeout is wanted,
// std::latch / std::barrier serve as well. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace rocketmart::testing {

// A one-shot gate that threads (e.g. writer jobs) can block on until the test opens it.
class Gate {
 public:
  void Open() {
    // Notified under the lock so a waiter cannot return and destroy the gate mid-notify.
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // False when the gate stayed closed for `timeout`.
  bool Wait(std::chrono::seconds timeout = std::chrono::seconds{30}) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Counts events and lets a test wait for a total.
class Counter {
 public:
  void Add(int n = 1) {
    std::lock_guard lock(mu_);  // See Gate::Open.
    count_ += n;
    cv_.notify_all();
  }
  // False when fewer than `at_least` events came within `timeout`.
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

}  // namespace rocketmart::testing

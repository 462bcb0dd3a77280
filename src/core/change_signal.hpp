// ChangeSignal: "something changed" from many writer threads to one listener, at most one wake
// per listening round, for free when nobody listens.
//
// Writers (the purchase path) call Notify() after they changed shared state; it costs a fence and
// one load of a flag that is almost always already set, and calls the listener's wake function
// only on the first change after the listener called Arm(). The listener calls Arm() *before* it
// reads the state, so a change that lands while it reads wakes it again: no change is missed.
// Until a listener arms it the signal stays "pending" and Notify() never calls anything.
//
// Thread-safety: Notify() and Arm() from any thread. SetWake() before any Notify() (start-up).
#pragma once

#include <atomic>
#include <functional>
#include <utility>

namespace rocketmart {

class ChangeSignal {
 public:
  // `wake` runs on the notifying thread: it must be quick and must not block (post a task).
  void SetWake(std::function<void()> wake) { wake_ = std::move(wake); }

  void Notify() noexcept {
    // Orders the caller's change before the flag read, against Arm()'s store before its reads.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (pending_.load(std::memory_order_relaxed)) return;
    if (!pending_.exchange(true, std::memory_order_acq_rel) && wake_) wake_();
  }

  // The listener takes the changes so far; the next Notify() wakes it again.
  void Arm() noexcept {
    // A release store (a notifier that sees it also sees the wake function set before), then a
    // full fence (the listener's reads that follow cannot move above it).
    pending_.store(false, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

 private:
  std::atomic<bool> pending_{true};
  std::function<void()> wake_;
};

}  // namespace rocketmart

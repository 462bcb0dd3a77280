// Admission: the in-memory filter in front of the durable hold. One object per product.
//
// Admit() answers the per-member limit and the stock question in one step (check and decrement
// together), without I/O, so a sold-out storm is answered from memory. It is a filter, not the
// truth: the durable hold's guarded UPDATE decides, and a hold that fails there gives its
// admission back. Thread-safe; Admit/GiveBack take one short mutex for the member table and a CAS
// on the counter.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/change_signal.hpp"
#include "core/result.hpp"

namespace rocketmart::checkout {

class Admission {
 public:
  explicit Admission(std::int64_t available = 0) : available_(available) {}

  // Every change of the available count notifies `signal` (live stock displays). Set once,
  // before the object is shared.
  void Watch(ChangeSignal* signal) { signal_ = signal; }

  // Order of answers: per-member limit, then sold out / insufficient stock.
  Status Admit(std::int64_t member_id, std::int64_t quantity, std::int64_t per_member_limit);
  // Returns units admitted earlier (hold failed, released, declined or expired).
  void GiveBack(std::int64_t member_id, std::int64_t quantity);
  // Adds restocked units.
  void AddStock(std::int64_t quantity) {
    available_.fetch_add(quantity, std::memory_order_acq_rel);
    Changed();
  }

  // Reconciliation: replace both counters with what the database says.
  void Reset(std::int64_t available, std::unordered_map<std::int64_t, std::int64_t> member_units);

  std::int64_t available() const { return available_.load(std::memory_order_acquire); }
  std::int64_t MemberUnits(std::int64_t member_id) const;

 private:
  void Changed() {
    if (signal_) signal_->Notify();
  }

  std::atomic<std::int64_t> available_;
  ChangeSignal* signal_ = nullptr;
  mutable std::mutex members_mutex_;
  std::unordered_map<std::int64_t, std::int64_t> member_units_;  // held or paid, per member
};

}  // namespace rocketmart::checkout

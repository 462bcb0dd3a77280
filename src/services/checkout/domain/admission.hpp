// AdmissionCounter: one product's admission state in memory — the stock counter and the units each
// member holds or paid — with the rules of admission and no I/O. The in-memory Admission adapter
// keeps one per product (adapters/in_memory_admission).
//
// Admit() answers the stock question and the per-member limit in one step (check and decrement
// together), so a sold-out storm is answered from memory. It is a filter, not the truth: the
// durable hold's guarded UPDATE decides, and a hold that fails there gives its admission back.
// Admitted units are "in flight" until Settle() (the hold committed) or Withdraw(); a rebuild
// from the database (ResetIfUnchanged) applies only while nothing is in flight and nothing moved
// since its generation was read, so an admission in flight is never counted twice or lost.
// Thread-safe: Admit/Withdraw/GiveBack take one short mutex for the member table and CAS the
// counter; Settle is one atomic decrement.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "core/result.hpp"

namespace rocketmart::checkout {

class AdmissionCounter {
 public:
  explicit AdmissionCounter(std::int64_t available = 0) : available_(available) {}

  // Order of answers: sold out, then the per-member limit, then insufficient stock. A refusal
  // changes nothing.
  Status Admit(std::int64_t member_id, std::int64_t quantity, std::int64_t per_member_limit);
  // An admitted line reached the database.
  void Settle() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }
  // An admitted line comes back without reaching the database (or after it was released there
  // before Settle).
  void Withdraw(std::int64_t member_id, std::int64_t quantity);
  // Units the database gave back (a released, expired or refunded hold): to stock and to the
  // member (member 0: stock only, a restock or a product's first stock).
  void GiveBack(std::int64_t member_id, std::int64_t quantity);

  // The generation to rebuild against, or nullopt while an admission is in flight.
  std::optional<std::uint64_t> QuietGeneration() const;
  // Replaces both counters with the database's figures if nothing was admitted, withdrawn or
  // given back since `generation` and nothing is in flight. True when it did.
  bool ResetIfUnchanged(std::uint64_t generation, std::int64_t available,
                        const std::unordered_map<std::int64_t, std::int64_t>& member_units);

  std::int64_t available() const { return available_.load(std::memory_order_acquire); }
  std::int64_t MemberUnits(std::int64_t member_id) const;

 private:
  std::atomic<std::int64_t> available_;
  std::atomic<std::int64_t> in_flight_{0};  // admitted lines not settled or withdrawn
  mutable std::mutex members_mutex_;
  std::uint64_t generation_ = 0;                                 // under members_mutex_
  std::unordered_map<std::int64_t, std::int64_t> member_units_;  // held or paid, per member
};

}  // namespace rocketmart::checkout

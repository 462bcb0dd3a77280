#include "services/checkout/domain/admission.hpp"

namespace rocketmart::checkout {

Status AdmissionCounter::Admit(std::int64_t member_id, std::int64_t quantity,
                               std::int64_t per_member_limit) {
  // Sold out is everyone's answer, so it comes first and takes no lock: a sold-out storm costs
  // one atomic load per attempt.
  if (available_.load(std::memory_order_acquire) <= 0) return MakeError(Errc::kSoldOut, "sold out");
  std::lock_guard lock(members_mutex_);
  auto it = member_units_.find(member_id);
  const std::int64_t owned = it == member_units_.end() ? 0 : it->second;
  if (owned + quantity > per_member_limit) {
    return MakeError(Errc::kPurchaseLimitReached, "the per-member limit of this sale is reached");
  }
  std::int64_t current = available_.load(std::memory_order_acquire);
  do {
    if (current <= 0) return MakeError(Errc::kSoldOut, "sold out");
    if (current < quantity) {
      return MakeError(Errc::kInsufficientStock, "fewer units left than requested");
    }
  } while (
      !available_.compare_exchange_weak(current, current - quantity, std::memory_order_acq_rel));
  if (it == member_units_.end()) {
    member_units_.emplace(member_id, quantity);
  } else {
    it->second += quantity;
  }
  ++generation_;
  in_flight_.fetch_add(1, std::memory_order_acq_rel);
  return Ok();
}

void AdmissionCounter::Withdraw(std::int64_t member_id, std::int64_t quantity) {
  GiveBack(member_id, quantity);
  in_flight_.fetch_sub(1, std::memory_order_acq_rel);
}

void AdmissionCounter::GiveBack(std::int64_t member_id, std::int64_t quantity) {
  std::lock_guard lock(members_mutex_);
  available_.fetch_add(quantity, std::memory_order_acq_rel);
  ++generation_;
  auto it = member_units_.find(member_id);
  if (it == member_units_.end()) return;
  it->second -= quantity;
  if (it->second <= 0) member_units_.erase(it);
}

std::optional<std::uint64_t> AdmissionCounter::QuietGeneration() const {
  std::lock_guard lock(members_mutex_);
  if (in_flight_.load(std::memory_order_acquire) != 0) return std::nullopt;
  return generation_;
}

bool AdmissionCounter::ResetIfUnchanged(
    std::uint64_t generation, std::int64_t available,
    const std::unordered_map<std::int64_t, std::int64_t>& member_units) {
  std::lock_guard lock(members_mutex_);
  // Admit holds this mutex while it decides, so no admission can slip between the check and the
  // replacement; Settle only ends an admission counted in in_flight_, which must be zero.
  if (generation_ != generation || in_flight_.load(std::memory_order_acquire) != 0) return false;
  available_.store(available, std::memory_order_release);
  member_units_ = member_units;
  ++generation_;
  return true;
}

std::int64_t AdmissionCounter::MemberUnits(std::int64_t member_id) const {
  std::lock_guard lock(members_mutex_);
  auto it = member_units_.find(member_id);
  return it == member_units_.end() ? 0 : it->second;
}

}  // namespace rocketmart::checkout

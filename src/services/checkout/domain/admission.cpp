#include "services/checkout/domain/admission.hpp"

namespace rocketmart::checkout {

Status Admission::Admit(std::int64_t member_id, std::int64_t quantity,
                        std::int64_t per_member_limit) {
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
  Changed();
  return Ok();
}

void Admission::GiveBack(std::int64_t member_id, std::int64_t quantity) {
  available_.fetch_add(quantity, std::memory_order_acq_rel);
  Changed();
  std::lock_guard lock(members_mutex_);
  auto it = member_units_.find(member_id);
  if (it == member_units_.end()) return;
  it->second -= quantity;
  if (it->second <= 0) member_units_.erase(it);
}

void Admission::Reset(std::int64_t available,
                      std::unordered_map<std::int64_t, std::int64_t> member_units) {
  std::lock_guard lock(members_mutex_);
  available_.store(available, std::memory_order_release);
  member_units_ = std::move(member_units);
  Changed();
}

std::int64_t Admission::MemberUnits(std::int64_t member_id) const {
  std::lock_guard lock(members_mutex_);
  auto it = member_units_.find(member_id);
  return it == member_units_.end() ? 0 : it->second;
}

}  // namespace rocketmart::checkout

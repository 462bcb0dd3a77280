#include "infra/http/client/retry_budget.hpp"

#include <algorithm>

namespace rocketmart::http::client {

RetryBudget::RetryBudget(const Clock& clock, RetryBudgetOptions options)
    : clock_(clock), options_(options) {
  options_.window_seconds =
      std::clamp<std::uint32_t>(options_.window_seconds, 1, kMaxWindowSeconds);
}

RetryBudget::Slot& RetryBudget::Current(std::int64_t now_s) {
  Slot& slot = slots_[static_cast<std::size_t>(now_s % options_.window_seconds)];
  if (slot.second != now_s) slot = Slot{now_s, 0, 0};
  return slot;
}

void RetryBudget::OnRequest() {
  const std::int64_t now_s = ToUnixSeconds(clock_.Now());
  std::lock_guard lock(mutex_);
  ++Current(now_s).requests;
}

bool RetryBudget::TryRetry() {
  const std::int64_t now_s = ToUnixSeconds(clock_.Now());
  std::lock_guard lock(mutex_);
  Slot& current = Current(now_s);
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  for (std::uint32_t i = 0; i < options_.window_seconds; ++i) {
    const Slot& s = slots_[i];
    if (s.second > now_s - static_cast<std::int64_t>(options_.window_seconds)) {
      requests += s.requests;
      retries += s.retries;
    }
  }
  const double allowed = options_.floor + options_.ratio * static_cast<double>(requests);
  if (static_cast<double>(retries + 1) > allowed) return false;
  ++current.retries;
  return true;
}

}  // namespace rocketmart::http::client

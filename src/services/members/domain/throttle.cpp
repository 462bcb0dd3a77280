#include "services/members/domain/throttle.hpp"

#include <algorithm>

namespace rocketmart::members {

std::chrono::seconds LockoutAfter(const BackoffRule& rule, int attempts) {
  if (attempts <= rule.free_failures) return std::chrono::seconds{0};
  const int doublings = std::min(attempts - rule.free_failures - 1, 20);
  return std::min<std::chrono::seconds>(rule.base_delay * (1LL << doublings), rule.max_delay);
}

std::chrono::seconds SecondsUntil(TimePoint until, TimePoint now) {
  return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(until - now));
}

}  // namespace rocketmart::members

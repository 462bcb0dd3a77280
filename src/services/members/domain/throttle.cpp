#include "services/members/domain/throttle.hpp"

#include <algorithm>
#include <cstdio>

namespace rocketmart::members {
namespace {

std::chrono::seconds CeilSeconds(std::chrono::microseconds d) {
  return std::chrono::ceil<std::chrono::seconds>(d);
}

}  // namespace

std::optional<std::chrono::seconds> FailureThrottle::Check(std::string_view key,
                                                           TimePoint now) const {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(std::string(key));
  if (it == entries_.end() || it->second.blocked_until <= now) return std::nullopt;
  return std::max(std::chrono::seconds{1},
                  CeilSeconds(std::chrono::duration_cast<std::chrono::microseconds>(
                      it->second.blocked_until - now)));
}

void FailureThrottle::RecordFailure(std::string_view key, TimePoint now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= options_.max_keys) Prune(now);
  Entry& e = entries_[std::string(key)];
  if (e.failures > 0 && now - e.last > options_.memory) e.failures = 0;
  ++e.failures;
  e.last = now;
  if (e.failures > options_.free_failures) {
    const int doublings = std::min(e.failures - options_.free_failures - 1, 20);
    const auto delay = std::min<std::chrono::seconds>(options_.base_delay * (1LL << doublings),
                                                      options_.max_delay);
    e.blocked_until = now + delay;
  }
}

void FailureThrottle::RecordSuccess(std::string_view key) {
  std::lock_guard lock(mu_);
  entries_.erase(std::string(key));
}

void FailureThrottle::Prune(TimePoint now) {
  std::erase_if(entries_, [&](const auto& kv) {
    return now - kv.second.last > options_.memory && kv.second.blocked_until <= now;
  });
  if (entries_.size() >= options_.max_keys) entries_.clear();
}

std::optional<std::chrono::seconds> WindowLimiter::Acquire(std::string_view key, TimePoint now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_keys_) {
    std::erase_if(entries_,
                  [&](const auto& kv) { return now - kv.second.window_start >= window_; });
    if (entries_.size() >= max_keys_) entries_.clear();
  }
  Entry& e = entries_[std::string(key)];
  if (e.count == 0 || now - e.window_start >= window_) {
    e.count = 0;
    e.window_start = now;
  }
  if (e.count >= limit_) {
    return std::max(std::chrono::seconds{1},
                    CeilSeconds(std::chrono::duration_cast<std::chrono::microseconds>(
                        e.window_start + window_ - now)));
  }
  ++e.count;
  return std::nullopt;
}

}  // namespace rocketmart::members

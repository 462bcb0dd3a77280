#include "services/members/adapters/in_memory_throttle_store.hpp"

#include <algorithm>

namespace rocketmart::members {

InMemoryThrottleStore::Entry& InMemoryThrottleStore::Find(const std::string& key, TimePoint now) {
  if (entries_.size() >= max_keys_ && !entries_.contains(key)) {
    std::erase_if(entries_, [now](const auto& kv) { return kv.second.expires_at <= now; });
    if (entries_.size() >= max_keys_) entries_.clear();
  }
  Entry& e = entries_[key];
  if (e.count > 0 && e.expires_at <= now) e = Entry{};
  return e;
}

ThrottleVerdict InMemoryThrottleStore::AcquireNow(const std::string& key, const WindowRule& rule,
                                                  TimePoint now) {
  std::lock_guard lock(mu_);
  Entry& e = Find(key, now);
  if (e.count == 0) {
    e.started = now;
    e.expires_at = now + rule.window;
  }
  if (e.count >= rule.limit) return SecondsUntil(e.expires_at, now);
  ++e.count;
  return std::nullopt;
}

ThrottleVerdict InMemoryThrottleStore::AttemptNow(const std::string& key, const BackoffRule& rule,
                                                  TimePoint now) {
  std::lock_guard lock(mu_);
  Entry& e = Find(key, now);
  if (e.blocked_until > now) return SecondsUntil(e.blocked_until, now);
  if (e.count > 0 && now - e.started >= rule.memory) e = Entry{};
  ++e.count;
  e.started = now;
  e.free = rule.free_failures;
  const auto lockout = LockoutAfter(rule, e.count);
  if (lockout.count() > 0) e.blocked_until = now + lockout;
  e.expires_at = std::max(now + rule.memory, e.blocked_until);
  return std::nullopt;
}

boost::asio::awaitable<Result<ThrottleVerdict>> InMemoryThrottleStore::Acquire(std::string key,
                                                                               WindowRule rule,
                                                                               TimePoint now) {
  co_return AcquireNow(key, rule, now);
}

boost::asio::awaitable<Result<ThrottleVerdict>> InMemoryThrottleStore::Attempt(std::string key,
                                                                               BackoffRule rule,
                                                                               TimePoint now) {
  co_return AttemptNow(key, rule, now);
}

boost::asio::awaitable<Status> InMemoryThrottleStore::Forgive(std::string key) {
  {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end() && it->second.count > 0) {
      Entry& e = it->second;
      --e.count;
      if (e.count <= e.free) e.blocked_until = TimePoint{};
    }
  }
  co_return Ok();
}

boost::asio::awaitable<Status> InMemoryThrottleStore::Reset(std::string key) {
  {
    std::lock_guard lock(mu_);
    entries_.erase(key);
  }
  co_return Ok();
}

}  // namespace rocketmart::members

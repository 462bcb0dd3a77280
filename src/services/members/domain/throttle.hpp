// Failure and request throttles keyed by account or client address. Pure logic over an injected
// time value, so tests drive it with a FakeClock; thread-safe (one mutex; every call is O(1)
// amortised). Memory is bounded: when more than max_keys keys are tracked, expired entries are
// pruned, and if that is not enough the oldest are dropped (an attacker spraying keys can only
// forget their own history, never lock a legitimate user out for longer).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"

namespace rocketmart::members {

// Consecutive failures per key. The first `free_failures` cost nothing; each further failure
// doubles the lockout, from `base_delay` up to `max_delay` (no permanent lockout: NIST 800-63B
// 5.2.2 and ASVS 6.3.1 "prevent malicious account lockout"). A success clears the key.
class FailureThrottle {
 public:
  struct Options {
    int free_failures = 5;
    std::chrono::seconds base_delay{1};
    std::chrono::seconds max_delay{900};
    // Failures older than this are forgotten.
    std::chrono::seconds memory{3600};
    std::size_t max_keys = 100'000;
  };
  explicit FailureThrottle(Options options) : options_(options) {}

  // nullopt: go ahead; otherwise how long the caller must wait.
  std::optional<std::chrono::seconds> Check(std::string_view key, TimePoint now) const;
  void RecordFailure(std::string_view key, TimePoint now);
  void RecordSuccess(std::string_view key);

 private:
  struct Entry {
    int failures = 0;
    TimePoint last{};
    TimePoint blocked_until{};
  };
  void Prune(TimePoint now);

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// At most `limit` events per key in a fixed window (e.g. 3 mails per account per hour).
class WindowLimiter {
 public:
  WindowLimiter(int limit, std::chrono::seconds window, std::size_t max_keys = 100'000)
      : limit_(limit), window_(window), max_keys_(max_keys) {}

  // Counts the event if allowed; otherwise returns the time until the window resets.
  std::optional<std::chrono::seconds> Acquire(std::string_view key, TimePoint now);

 private:
  struct Entry {
    int count = 0;
    TimePoint window_start{};
  };
  const int limit_;
  const std::chrono::seconds window_;
  const std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace rocketmart::members

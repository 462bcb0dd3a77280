// ThrottleStore in process memory: the embedded adapter (one process, so its counters are every
// instance's). One mutex; every call is O(1) amortised. Memory is bounded: when `max_keys` keys
// are tracked, the expired ones are dropped, and if that is not enough all are (an attacker
// spraying keys can only make the store forget, never lock a legitimate user out for longer).
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/members/ports/throttle_store.hpp"

namespace rocketmart::members {

class InMemoryThrottleStore final : public ThrottleStore {
 public:
  explicit InMemoryThrottleStore(std::size_t max_keys = 200'000) : max_keys_(max_keys) {}

  boost::asio::awaitable<Result<ThrottleVerdict>> Acquire(std::string key, WindowRule rule,
                                                          TimePoint now) override;
  boost::asio::awaitable<Result<ThrottleVerdict>> Attempt(std::string key, BackoffRule rule,
                                                          TimePoint now) override;
  boost::asio::awaitable<Status> Forgive(std::string key) override;
  boost::asio::awaitable<Status> Reset(std::string key) override;

 private:
  struct Entry {
    int count = 0;
    TimePoint started{};  // window: when it started; back-off: the last counted attempt
    TimePoint blocked_until{};
    TimePoint expires_at{};  // nothing about the key matters after this
    int free = 0;            // back-off: the rule's free attempts (for Forgive)
  };
  ThrottleVerdict AcquireNow(const std::string& key, const WindowRule& rule, TimePoint now);
  ThrottleVerdict AttemptNow(const std::string& key, const BackoffRule& rule, TimePoint now);
  Entry& Find(const std::string& key, TimePoint now);  // makes room first; mu_ held

  const std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace rocketmart::members

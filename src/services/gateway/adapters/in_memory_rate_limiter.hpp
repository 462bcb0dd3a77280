// RequestRateLimiter in process memory: the embedded adapter (one process, so its counters are
// every instance's). GCRA keeps one instant per key (its "theoretical arrival time"), so a key
// costs one 32-byte slot.
//
// Bounded memory, no allocation after construction: the slots are one table allocated up front
// (`capacity` keys), set-associative (a key can live in one set of 8 slots). A key seen for the
// first time takes a free slot of its set, else one whose instant has passed (such a key is as
// good as new: forgetting it changes no answer), else the one with the earliest instant (the key
// that would be allowed again soonest). A million distinct addresses therefore cost nothing more
// than the table, and they displace each other before they displace a key being held back, whose
// instant lies furthest ahead.
//
// Lock-light: the sets are spread over 64 mutexes; a call locks the one or two it needs (in
// order). Answers without suspending (TryAcquireNow). Time is the injected clock's.
// Thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/clock.hpp"
#include "services/gateway/ports/request_rate_limiter.hpp"

namespace rocketmart::gateway {

class InMemoryRateLimiter final : public RequestRateLimiter {
 public:
  // `capacity`: keys remembered at most (rounded up to a power of two, at least 512).
  explicit InMemoryRateLimiter(const Clock& clock, std::size_t capacity = 1 << 17);

  boost::asio::awaitable<Result<RateVerdict>> Acquire(std::span<const RateCheck> checks) override;
  std::optional<Result<RateVerdict>> TryAcquireNow(std::span<const RateCheck> checks) override;

  std::size_t capacity() const { return sets_ * kWays; }
  // Keys remembered now (for tests and the bound).
  std::size_t size() const;

 private:
  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kLocks = 64;
  struct Slot {
    std::array<std::uint8_t, 17> key{};  // key[0] == 0: free
    std::int64_t tat = 0;                // microseconds since the clock's epoch
  };
  struct alignas(64) Lock {
    std::mutex mu;
  };

  RateVerdict AcquireLocked(std::span<const RateCheck> checks, std::int64_t now);
  std::size_t SetOf(const RateKey& key) const;
  Slot* Find(const RateKey& key);
  Slot& Insert(const RateKey& key, std::int64_t now);

  const Clock& clock_;
  const std::size_t sets_;
  std::unique_ptr<Slot[]> slots_;
  mutable std::array<Lock, kLocks> locks_;
};

}  // namespace rocketmart::gateway

#include "services/gateway/adapters/in_memory_rate_limiter.hpp"

#include <algorithm>
#include <bit>
#include <string_view>

namespace rocketmart::gateway {

namespace {
constexpr std::size_t kMaxChecks = 4;
}

InMemoryRateLimiter::InMemoryRateLimiter(const Clock& clock, std::size_t capacity)
    : clock_(clock),
      sets_(std::bit_ceil(std::max<std::size_t>(capacity, 512)) / kWays),
      slots_(std::make_unique<Slot[]>(sets_ * kWays)) {}

std::size_t InMemoryRateLimiter::SetOf(const RateKey& key) const {
  const auto& b = key.bytes();
  // FNV-1a over the 17 bytes: cheap, and spreads neighbouring addresses and ids.
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint8_t c : b) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h ^ (h >> 29)) & (sets_ - 1);
}

InMemoryRateLimiter::Slot* InMemoryRateLimiter::Find(const RateKey& key) {
  Slot* set = &slots_[SetOf(key) * kWays];
  for (std::size_t i = 0; i < kWays; ++i) {
    if (set[i].key == key.bytes()) return &set[i];
  }
  return nullptr;
}

InMemoryRateLimiter::Slot& InMemoryRateLimiter::Insert(const RateKey& key, std::int64_t now) {
  Slot* set = &slots_[SetOf(key) * kWays];
  Slot* victim = &set[0];
  for (std::size_t i = 0; i < kWays; ++i) {
    Slot& s = set[i];
    if (s.key[0] == 0 || s.tat <= now) {
      victim = &s;
      break;
    }
    if (s.tat < victim->tat) victim = &s;
  }
  victim->key = key.bytes();
  victim->tat = now;
  return *victim;
}

RateVerdict InMemoryRateLimiter::AcquireLocked(std::span<const RateCheck> checks,
                                               std::int64_t now) {
  RateVerdict verdict;
  std::array<std::int64_t, kMaxChecks> next{};
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const RateLimit& limit = checks[i].limit;
    const std::int64_t interval = limit.IntervalMicros();
    const Slot* slot = Find(checks[i].key);
    const std::int64_t tat = slot ? std::max(slot->tat, now) : now;
    next[i] = tat + interval;
    const std::int64_t over = next[i] - now - limit.burst * interval;
    if (over > 0) {
      if (verdict.refused < 0) verdict.refused = static_cast<int>(i);
      verdict.retry_after = std::max(verdict.retry_after, std::chrono::microseconds(over));
    }
  }
  if (!verdict.allowed()) return verdict;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    Slot* slot = Find(checks[i].key);
    if (slot == nullptr) slot = &Insert(checks[i].key, now);
    slot->tat = next[i];
  }
  return verdict;
}

std::optional<Result<RateVerdict>> InMemoryRateLimiter::TryAcquireNow(
    std::span<const RateCheck> checks) {
  if (checks.size() > kMaxChecks) {
    return Result<RateVerdict>(MakeError(Errc::kValidationFailed, "at most 4 rate checks"));
  }
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now().time_since_epoch())
          .count();
  // The locks of the sets involved, each once, in ascending order.
  std::array<std::size_t, kMaxChecks> locks{};
  std::size_t n = 0;
  for (const RateCheck& c : checks) locks[n++] = SetOf(c.key) % kLocks;
  std::sort(locks.begin(), locks.begin() + n);
  n = static_cast<std::size_t>(std::unique(locks.begin(), locks.begin() + n) - locks.begin());
  for (std::size_t i = 0; i < n; ++i) locks_[locks[i]].mu.lock();
  const RateVerdict verdict = AcquireLocked(checks, now);
  for (std::size_t i = n; i-- > 0;) locks_[locks[i]].mu.unlock();
  return Result<RateVerdict>(verdict);
}

boost::asio::awaitable<Result<RateVerdict>> InMemoryRateLimiter::Acquire(
    std::span<const RateCheck> checks) {
  co_return *TryAcquireNow(checks);
}

std::size_t InMemoryRateLimiter::size() const {
  std::size_t n = 0;
  for (auto& l : locks_) l.mu.lock();
  for (std::size_t i = 0; i < sets_ * kWays; ++i) n += slots_[i].key[0] != 0 ? 1 : 0;
  for (auto& l : locks_) l.mu.unlock();
  return n;
}

}  // namespace rocketmart::gateway

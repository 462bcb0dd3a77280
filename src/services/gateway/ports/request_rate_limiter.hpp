// Port: request rate limits (issues 14 + 15). "May these keys each make one more request now?"
// Each key is limited by GCRA (the generic cell rate algorithm, a token bucket kept as one
// instant per key): `per_second` sustained, `burst` at once from idle. A request is counted
// against every key of one call or against none: all keys allowed -> all counted; otherwise
// nothing is counted and the answer names the first key refused and the time until every refused
// key would allow one more (for Retry-After).
//
// Embedded the counters live in process memory; with several gateway instances in a shared store
// (Redis), whose clock decides, so that instances agree and spreading requests over instances
// gains nothing. Errors (the store is unreachable or slow) are returned; whether to let the
// request through then is the caller's decision (the gateway lets it through: rate_limit_gate.hpp).
// Thread-safe.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/result.hpp"

namespace rocketmart::gateway {

// What a limit applies to: one member, or one client address (IPv4, or an IPv6 /64: one
// customer's network, which hands out the rest of its 2^64 addresses freely).
class RateKey {
 public:
  enum class Scope : std::uint8_t { kMember = 1, kAddress = 2 };

  static RateKey Member(std::int64_t member_id);
  // IPv4-mapped IPv6 addresses count as their IPv4 address.
  static RateKey Address(const boost::asio::ip::address& address);

  Scope scope() const { return static_cast<Scope>(bytes_[0]); }
  // "m:<id>", "ip:<a.b.c.d>", "ip:<x:x:x:x::>/64" (for a shared store's key names).
  std::string ToString() const;
  // Fixed size, so an in-memory table needs no allocation to hold one.
  const std::array<std::uint8_t, 17>& bytes() const { return bytes_; }
  friend bool operator==(const RateKey&, const RateKey&) = default;

 private:
  std::array<std::uint8_t, 17> bytes_{};  // scope, then 16 bytes of id
};

struct RateLimit {
  std::int64_t per_second = 0;  // > 0
  std::int64_t burst = 1;       // >= 1: requests allowed at once from idle
  // The time one request costs (GCRA's emission interval), in microseconds.
  std::int64_t IntervalMicros() const { return per_second > 0 ? 1'000'000 / per_second : 0; }
};

struct RateCheck {
  RateKey key;
  RateLimit limit;
};

struct RateVerdict {
  // -1: allowed (counted against every key); else the index of the first check refused.
  int refused = -1;
  // Refused: the time until every refused key allows one more request (> 0).
  std::chrono::microseconds retry_after{0};
  bool allowed() const { return refused < 0; }
};

class RequestRateLimiter {
 public:
  virtual ~RequestRateLimiter() = default;
  // One request against every check's key, all or nothing (see above). At most 4 checks; the
  // span must stay valid until the awaitable completes.
  virtual boost::asio::awaitable<Result<RateVerdict>> Acquire(
      std::span<const RateCheck> checks) = 0;
  // The same call answered without suspending, when the adapter can (process memory): the hot
  // path then costs no coroutine frame. nullopt when it would have to wait for a store (then
  // await Acquire; nothing was counted).
  virtual std::optional<Result<RateVerdict>> TryAcquireNow(std::span<const RateCheck> checks) {
    (void)checks;
    return std::nullopt;
  }
};

}  // namespace rocketmart::gateway

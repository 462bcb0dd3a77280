// RequestRateLimiter over Redis, shared by every gateway instance: one Lua script per request
// (one round trip for all of its keys, atomic on the server), so spreading requests over
// instances gains nothing. The script reads the server's clock (TIME), so instances whose clocks
// disagree still agree on every key's budget.
//
// Keys (under `prefix`): rl:<key> (rl:m:<member>, rl:ip:<address>), a string holding the key's
// GCRA instant in microseconds of Redis time, with an expiry at that instant: a key idle long
// enough to be as good as new is gone from the server by itself.
//
// Errors (unreachable, the client's 1 s command deadline, an error reply) are returned; the
// gateway lets the request through then (rate_limit_gate.hpp). While the client backs off after a
// lost connection an error comes at once. Thread-safe (the client is).
#pragma once

#include <string>

#include "infra/redis/client.hpp"
#include "services/gateway/ports/request_rate_limiter.hpp"

namespace rocketmart::gateway {

class RedisRateLimiter final : public RequestRateLimiter {
 public:
  RedisRateLimiter(redis::Client& client, std::string prefix);

  boost::asio::awaitable<Result<RateVerdict>> Acquire(std::span<const RateCheck> checks) override;

 private:
  redis::Client& client_;
  const std::string prefix_;
};

}  // namespace rocketmart::gateway

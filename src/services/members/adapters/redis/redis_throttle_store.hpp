// ThrottleStore in Redis: the counters shared by every members instance over one server, so an
// attacker gains nothing by spreading attempts over instances. Each call is one Lua script (one
// round trip, atomic on the server): the check and the increment cannot be split by another
// instance. Times are the caller's `now` (milliseconds since the epoch, stored in the key's hash),
// so the rules behave exactly as the in-memory adapter's under any clock; every key also gets a
// Redis expiry at the end of what it remembers, so the server forgets idle keys by itself.
//
// Keys: <prefix>throttle:<key>, a hash (c = count, s = window start / last attempt, b = locked
// until, x = forget at, f = the rule's free attempts). A back-off rule's lockout ladder is computed
// here by domain LockoutAfter() and passed to the script, so the rule lives in one place.
//
// Errors (the server unreachable, a timeout, an error reply) are returned, never "go ahead".
// Thread-safe (the client is).
#pragma once

#include <string>

#include "infra/redis/client.hpp"
#include "services/members/ports/throttle_store.hpp"

namespace rocketmart::members {

class RedisThrottleStore final : public ThrottleStore {
 public:
  // `prefix` namespaces every key ("rocketmart:" in production, a test's own prefix in tests).
  RedisThrottleStore(redis::Client& client, std::string prefix);

  boost::asio::awaitable<Result<ThrottleVerdict>> Acquire(std::string key, WindowRule rule,
                                                          TimePoint now) override;
  boost::asio::awaitable<Result<ThrottleVerdict>> Attempt(std::string key, BackoffRule rule,
                                                          TimePoint now) override;
  boost::asio::awaitable<Status> Forgive(std::string key) override;
  boost::asio::awaitable<Status> Reset(std::string key) override;

 private:
  std::string Key(const std::string& key) const { return prefix_ + "throttle:" + key; }

  redis::Client& client_;
  const std::string prefix_;
};

}  // namespace rocketmart::members

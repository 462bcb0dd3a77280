// Port: the counters behind members' throttles (domain/throttle.hpp), keyed by account or client
// address. Embedded they live in process memory; with several instances in a shared store
// (Redis, next issue), so that an attacker gains nothing by spreading attempts over instances.
//
// Every counting call is one atomic check-and-increment with expiry (a Redis script, not a read
// followed by a write): under any number of parallel callers on any number of instances, a key
// lets through exactly what its rule allows. A refused call counts nothing. The rule travels with
// each call, so one store serves every throttle; a key is used with one rule. `now` comes from
// the caller's clock. Errors (the store is unreachable) are returned, never treated as "go ahead".
// Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/members/domain/throttle.hpp"

namespace rocketmart::members {

class ThrottleStore {
 public:
  virtual ~ThrottleStore() = default;
  // Fixed window: counts the event when fewer than rule.limit were counted in the key's current
  // window (which starts with the first event after the previous one ended); otherwise the time
  // until the window ends.
  virtual boost::asio::awaitable<Result<ThrottleVerdict>> Acquire(std::string key, WindowRule rule,
                                                                  TimePoint now) = 0;
  // Back-off: counts one attempt unless the key is locked out (then: the time until the lockout
  // ends). The attempts before this one are forgotten when the last of them is older than
  // rule.memory (at last + memory); the counted attempt starts the lockout LockoutAfter(rule,
  // count).
  virtual boost::asio::awaitable<Result<ThrottleVerdict>> Attempt(std::string key, BackoffRule rule,
                                                                  TimePoint now) = 0;
  // The attempt counted last turned out not to be a guess: takes one back (never below zero),
  // and lifts the lockout when the count is back within the free attempts.
  virtual boost::asio::awaitable<Status> Forgive(std::string key) = 0;
  // Forgets the key (a successful login clears its account's attempts).
  virtual boost::asio::awaitable<Status> Reset(std::string key) = 0;
};

}  // namespace rocketmart::members

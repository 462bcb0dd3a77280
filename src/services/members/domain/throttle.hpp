// The throttling rules members applies (which counts, how long a lockout lasts), as values and
// pure functions. Where the counts live is the ThrottleStore port's business
// (ports/throttle_store.hpp): process memory embedded, a shared store with several instances.
#pragma once

#include <chrono>
#include <optional>

#include "core/clock.hpp"

namespace rocketmart::members {

// Attempts per key with an exponential lockout (logins per account and per client address,
// mailed-link guesses per client address). The first `free_failures` + 1 attempts go ahead; the
// one past `free_failures` starts a lockout of `base_delay`, and each further attempt let through
// after a lockout doubles it, up to `max_delay` (no permanent lockout: NIST 800-63B 5.2.2 and
// ASVS 6.3.1 "prevent malicious account lockout"). An attempt that turned out not to be a guess
// (the password was right) is forgiven; attempts older than `memory` are forgotten.
struct BackoffRule {
  int free_failures = 5;
  std::chrono::seconds base_delay{1};
  std::chrono::seconds max_delay{900};
  std::chrono::seconds memory{3600};
};

// At most `limit` events per key in a fixed window that starts with the key's first event (e.g.
// 3 mails per account per hour).
struct WindowRule {
  int limit = 1;
  std::chrono::seconds window{3600};
};

// What a throttle answers: nullopt = go ahead (the event was counted), otherwise how long the
// caller must wait (at least one second).
using ThrottleVerdict = std::optional<std::chrono::seconds>;

// The lockout that attempt number `attempts` (1-based) starts; zero while it is a free one.
std::chrono::seconds LockoutAfter(const BackoffRule& rule, int attempts);
// The wait until `until` as a verdict: whole seconds rounded up, at least one.
std::chrono::seconds SecondsUntil(TimePoint until, TimePoint now);

}  // namespace rocketmart::members

// A retry budget: retries may add at most `ratio` of the requests of the last `window`, plus a
// small floor, so that retries cannot multiply the load on a peer that is already failing.
// Thread-safe (one short mutex per call). Time comes from the injected Clock.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

#include "core/clock.hpp"

namespace rocketmart::http::client {

struct RetryBudgetOptions {
  double ratio = 0.1;                 // retries ≤ 10 % of the requests in the window ...
  std::uint32_t floor = 5;            // ... + this many, so a quiet peer can still be retried
  std::uint32_t window_seconds = 10;  // 1..kMaxWindowSeconds
};

class RetryBudget {
 public:
  static constexpr std::uint32_t kMaxWindowSeconds = 60;

  RetryBudget(const Clock& clock, RetryBudgetOptions options);
  // A first attempt was made (deposits `ratio` of a retry).
  void OnRequest();
  // True, and the retry is counted, when the window's retries stay within the budget.
  bool TryRetry();

 private:
  struct Slot {
    std::int64_t second = -1;
    std::uint32_t requests = 0;
    std::uint32_t retries = 0;
  };
  Slot& Current(std::int64_t now_s);

  const Clock& clock_;
  RetryBudgetOptions options_;
  std::mutex mutex_;
  std::array<Slot, kMaxWindowSeconds> slots_{};
};

}  // namespace rocketmart::http::client

// A jittered, doubling retry delay: each Next() is drawn from [d/2, d], then d doubles up to the
// maximum; Reset() after a success starts again from the initial delay. The jitter keeps many
// instances that lost the same server from coming back in step. Not thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

#include "core/clock.hpp"

namespace rocketmart::discovery {

class Backoff {
 public:
  Backoff(Millis initial, Millis max)
      : initial_(std::max(initial, Millis{1})),
        max_(std::max(max, initial_)),
        current_(initial_),
        rng_(std::random_device{}()) {}

  Millis Next() {
    const auto high = current_.count();
    std::uniform_int_distribution<Millis::rep> pick(high - high / 2, high);
    const Millis delay{pick(rng_)};
    current_ = std::min(current_ * 2, max_);
    return delay;
  }
  void Reset() { current_ = initial_; }

 private:
  Millis initial_;
  Millis max_;
  Millis current_;
  std::minstd_rand rng_;
};

}  // namespace rocketmart::discovery

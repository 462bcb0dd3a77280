// Waits for an observable condition (an event delivered, an order created), bounded. Tests use it
// instead of sleeping for a guessed time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace rocketmart::testing {

inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
    std::this_thread::sleep_for(
        std::chrono::milliseconds(2));  // poll interval, not a guess of time
  }
  return true;
}

}  // namespace rocketmart::testing

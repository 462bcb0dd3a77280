// Time as a port. Domain code asks a Clock for "now"; tests hand in a FakeClock and move it, so no
// test ever sleeps to wait for time to pass.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace rocketmart {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;
// By when work must have started, on the monotonic clock (a request's deadline). Work that has
// not started by then is not started at all.
using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{std::chrono::seconds{1'800'000'000}})
      : now_us_(ToMicros(start)) {}
  TimePoint Now() const override {
    return TimePoint{std::chrono::microseconds{now_us_.load(std::memory_order_acquire)}};
  }
  void Set(TimePoint t) { now_us_.store(ToMicros(t), std::memory_order_release); }
  void Advance(std::chrono::microseconds d) {
    now_us_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

 private:
  static std::int64_t ToMicros(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  }
  std::atomic<std::int64_t> now_us_;
};

inline std::int64_t ToUnixMillis(TimePoint t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline TimePoint FromUnixMillis(std::int64_t ms) {
  return TimePoint{Millis{ms}};
}
inline std::int64_t ToUnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}

}  // namespace rocketmart

// Prometheus metrics: counters, gauges and fixed-bucket histograms, rendered as text exposition.
//
// Metrics are created once at start-up (Registry methods lock) and then updated lock-free from any
// thread with relaxed atomics, so the hot path pays one atomic add per update. The Registry owns
// every metric; references stay valid for its lifetime.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rocketmart::metrics {

class Counter {
 public:
  void Add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Latency histogram in seconds with fixed buckets from 100 µs to 10 s.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0};
  void ObserveMicros(std::uint64_t micros);
  void Render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class Registry {
 public:
  // `labels` is the rendered label set without braces, e.g. `route="/products/{id}",method="GET"`.
  Counter& GetCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::string& labels = "");
  // A value read at scrape time (queue depths, connection counts).
  void AddGauge(const std::string& name, const std::string& help, const std::string& labels,
                std::function<double()> read);
  // A counter another component already keeps (commits, deliveries), read at scrape time: typed
  // `counter`, so `rate()` works and `promtool check metrics` accepts its `_total` name. The value
  // must never decrease while the process runs.
  void AddCounterFn(const std::string& name, const std::string& help, const std::string& labels,
                    std::function<std::uint64_t()> read);

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string name, help, type;
  };
  struct Entry {
    std::size_t family;
    std::string labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> gauge;
    std::function<std::uint64_t()> counter_fn;
  };
  // Throws std::logic_error when `name` was registered with another type.
  std::size_t FamilyIndex(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mutex_;
  std::vector<Family> families_;
  std::vector<Entry> entries_;
};

// Escapes a label value for the exposition format.
std::string EscapeLabel(std::string_view value);

}  // namespace rocketmart::metrics

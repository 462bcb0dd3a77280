#include "infra/metrics/metrics.hpp"

#include <cstdio>
#include <stdexcept>

namespace rocketmart::metrics {

void Histogram::ObserveMicros(std::uint64_t micros) {
  const double seconds = static_cast<double>(micros) / 1e6;
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(micros, std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  char buf[64];
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%g", kBounds[i]);
    out += name + "_bucket{" + labels + sep + "le=\"" + buf + "\"} " + std::to_string(cumulative) +
           "\n";
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  std::snprintf(buf, sizeof buf, "%.6f",
                static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  out += name + "_sum{" + labels + "} " + buf + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(cumulative) + "\n";
}

std::size_t Registry::FamilyIndex(const std::string& name, const std::string& help,
                                  const char* type) {
  for (std::size_t i = 0; i < families_.size(); ++i) {
    if (families_[i].name != name) continue;
    if (families_[i].type != type) {
      throw std::logic_error("metric " + name + " registered as " + families_[i].type + " and " +
                             type);
    }
    return i;
  }
  families_.push_back({name, help, type});
  return families_.size() - 1;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const std::string& labels) {
  std::lock_guard lock(mutex_);
  const std::size_t f = FamilyIndex(name, help, "counter");
  for (auto& e : entries_) {
    if (e.family == f && e.labels == labels && e.counter) return *e.counter;
  }
  entries_.push_back({f, labels, std::make_unique<Counter>(), nullptr, nullptr, nullptr});
  return *entries_.back().counter;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::string& labels) {
  std::lock_guard lock(mutex_);
  const std::size_t f = FamilyIndex(name, help, "histogram");
  for (auto& e : entries_) {
    if (e.family == f && e.labels == labels && e.histogram) return *e.histogram;
  }
  entries_.push_back({f, labels, nullptr, std::make_unique<Histogram>(), nullptr, nullptr});
  return *entries_.back().histogram;
}

void Registry::AddGauge(const std::string& name, const std::string& help, const std::string& labels,
                        std::function<double()> read) {
  std::lock_guard lock(mutex_);
  const std::size_t f = FamilyIndex(name, help, "gauge");
  entries_.push_back({f, labels, nullptr, nullptr, std::move(read), nullptr});
}

void Registry::AddCounterFn(const std::string& name, const std::string& help,
                            const std::string& labels, std::function<std::uint64_t()> read) {
  std::lock_guard lock(mutex_);
  const std::size_t f = FamilyIndex(name, help, "counter");
  entries_.push_back({f, labels, nullptr, nullptr, nullptr, std::move(read)});
}

std::string Registry::RenderPrometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(16 * 1024);
  for (std::size_t f = 0; f < families_.size(); ++f) {
    const Family& family = families_[f];
    out += "# HELP " + family.name + " " + family.help + "\n# TYPE " + family.name + " " +
           family.type + "\n";
    for (const auto& e : entries_) {
      if (e.family != f) continue;
      const std::string labels = e.labels.empty() ? "" : "{" + e.labels + "}";
      if (e.counter) {
        out += family.name + labels + " " + std::to_string(e.counter->Value()) + "\n";
      } else if (e.counter_fn) {
        out += family.name + labels + " " + std::to_string(e.counter_fn()) + "\n";
      } else if (e.histogram) {
        e.histogram->Render(out, family.name, e.labels);
      } else if (e.gauge) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", e.gauge());
        out += family.name + labels + " " + buf + "\n";
      }
    }
  }
  return out;
}

std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace rocketmart::metrics

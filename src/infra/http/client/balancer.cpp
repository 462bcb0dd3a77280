#include "infra/http/client/balancer.hpp"

#include <algorithm>
#include <limits>

namespace rocketmart::http::client {

namespace {

std::uint64_t Fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64's finalizer: a key's score on an endpoint, well spread whatever the inputs.
std::uint64_t Score(std::uint64_t affinity, std::uint64_t id_hash) {
  std::uint64_t z = affinity ^ id_hash;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t EndpointIdHash(std::string_view id) {
  return Fnv1a(id);
}

Balancer::Balancer(const Clock& clock, BreakerOptions options) : clock_(clock), options_(options) {}

void Balancer::Update(std::vector<Endpoint> endpoints) {
  std::vector<std::shared_ptr<EndpointState>> next;
  std::vector<std::shared_ptr<EndpointState>> gone;
  {
    std::lock_guard lock(mutex_);
    next.reserve(endpoints.size());
    for (auto& e : endpoints) {
      const bool duplicate = std::any_of(next.begin(), next.end(),
                                         [&](const auto& s) { return s->endpoint.id == e.id; });
      if (duplicate) continue;
      const auto same = std::find_if(states_.begin(), states_.end(),
                                     [&](const auto& s) { return s->endpoint == e; });
      next.push_back(same != states_.end() ? *same : std::make_shared<EndpointState>(std::move(e)));
    }
    for (auto& s : states_) {
      if (std::find(next.begin(), next.end(), s) == next.end()) {
        s->removed = true;
        gone.push_back(s);
      }
    }
    states_ = std::move(next);
  }
  if (on_removed_) {
    for (auto& s : gone) on_removed_(std::move(s));
  }
}

bool Balancer::Available(EndpointState& s, TimePoint now) const {
  if (!s.ejected) return true;
  return now >= s.ejected_until && !s.probe_in_flight;
}

Pick Balancer::Choose(std::span<const EndpointState* const> tried, std::uint64_t affinity) {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  Pick pick;
  const std::size_t n = states_.size();
  if (n == 0) return pick;
  EndpointState* best = nullptr;
  for (int pass = 0; pass < 2 && best == nullptr; ++pass) {
    for (std::size_t i = 0; i < n; ++i) {
      EndpointState& s = *states_[(next_ + i) % n];
      if (!Available(s, now)) continue;
      if (pass == 0 && std::find(tried.begin(), tried.end(), &s) != tried.end()) continue;
      if (best == nullptr) {
        best = &s;
      } else if (affinity != 0) {
        if (Score(affinity, s.id_hash) > Score(affinity, best->id_hash)) best = &s;
      } else if (s.outstanding < best->outstanding) {
        best = &s;
      }
    }
  }
  if (best == nullptr) {
    pick.failure = PickFailure::kAllEjected;
    Millis wait = options_.max_ejection;
    for (const auto& s : states_) {
      wait = std::min(wait, std::chrono::ceil<Millis>(s->ejected_until - now));
    }
    pick.retry_after = std::max(wait, Millis{1});
    return pick;
  }
  next_ = (next_ + 1) % n;
  ++best->outstanding;
  if (best->ejected) {
    best->probe_in_flight = true;
    pick.probe = true;
  }
  for (const auto& s : states_) {
    if (s.get() == best) pick.state = s;
  }
  return pick;
}

bool Balancer::Finish(const Pick& pick, Verdict verdict) {
  EndpointState& s = *pick.state;
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  --s.outstanding;
  if (pick.probe) s.probe_in_flight = false;
  if (verdict == Verdict::kInconclusive) return false;
  if (s.ejected && !pick.probe) return false;  // began before the ejection: the probe decides
  if (verdict == Verdict::kHealthy) {
    s.consecutive_failures = 0;
    s.ejections = 0;
    s.ejected = false;
    return false;
  }
  if (!pick.probe && ++s.consecutive_failures < options_.consecutive_failures) return false;
  // Eject: base × 2^(ejections in a row), capped.
  Millis cool_down = options_.base_ejection;
  for (std::uint32_t i = 0; i < s.ejections && cool_down < options_.max_ejection; ++i) {
    cool_down *= 2;
  }
  cool_down = std::min(cool_down, options_.max_ejection);
  ++s.ejections;
  s.ejected = true;
  s.ejected_until = now + cool_down;
  s.consecutive_failures = 0;
  return true;
}

Millis Balancer::RetryAfter() const {
  const TimePoint now = clock_.Now();
  std::lock_guard lock(mutex_);
  Millis wait = states_.empty() ? Millis{0} : Millis::max();
  for (const auto& s : states_) {
    if (!s->ejected) return Millis{0};
    wait = std::min(wait, std::max(Millis{0}, std::chrono::ceil<Millis>(s->ejected_until - now)));
  }
  return wait;
}

std::vector<std::shared_ptr<EndpointState>> Balancer::Snapshot() const {
  std::lock_guard lock(mutex_);
  return states_;
}

}  // namespace rocketmart::http::client

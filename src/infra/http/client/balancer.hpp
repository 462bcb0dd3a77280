// The endpoint set of one peer with each endpoint's health: least-outstanding-requests picking
// (or, for a call with an affinity key, rendezvous hashing: docs/adr/0045), consecutive-failure
// ejection with a doubling cool-down, and a half-open probe after it.
// Thread-safe: one short mutex around picking and reporting; the set may be updated at any time.
// Time for cool-downs comes from the injected Clock (tests move a FakeClock).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "infra/http/client/endpoint.hpp"

namespace rocketmart::http::client {

struct LoopPool;  // client.cpp: one event loop's connections to one endpoint

// EndpointState::id_hash of an endpoint id.
std::uint64_t EndpointIdHash(std::string_view id);

struct BreakerOptions {
  // Consecutive failures (connect errors, 5xx, timeouts, resets) that eject an endpoint.
  std::uint32_t consecutive_failures = 5;
  // The first cool-down; each ejection that follows a failed probe doubles it, up to the cap.
  Millis base_ejection{1000};
  Millis max_ejection{30000};
};

// One endpoint: identity, health (under Balancer's mutex) and its connection pools, one per event
// loop that called it (under its own mutex). Shared by the calls using it, so it outlives its
// removal from the set.
struct EndpointState {
  explicit EndpointState(Endpoint e);
  ~EndpointState();
  EndpointState(const EndpointState&) = delete;
  EndpointState& operator=(const EndpointState&) = delete;

  const Endpoint endpoint;
  // A hash of endpoint.id that every process computes alike (FNV-1a): an affinity key's ranking
  // of the endpoints is then the same on every gateway.
  const std::uint64_t id_hash;

  // Guarded by the Balancer's mutex.
  std::uint32_t outstanding = 0;
  std::uint32_t consecutive_failures = 0;
  std::uint32_t ejections = 0;  // in a row, without a success between them
  bool ejected = false;         // until a probe succeeds
  TimePoint ejected_until{};    // the end of the cool-down; then one probe may go (half-open)
  bool probe_in_flight = false;
  std::atomic<bool> removed{false};  // no longer in the set (read under pool_mutex too)

  // One pool per event loop (a connection never changes loops); created on a loop's first call
  // and kept while the endpoint lives, so a pool's address is stable.
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<LoopPool>> pools;
};

enum class PickFailure { kNoEndpoints, kAllEjected };

// What the end of a call says about its endpoint's health.
enum class Verdict {
  kHealthy,  // an answer below 500 (the streak of failures ends; a probe restores the endpoint)
  kFailed,   // a connect error, a 5xx, a timeout of a fair attempt, a connection lost
  // Nothing either way: a timeout of an attempt the caller's deadline cut too short to judge the
  // endpoint by (ADR 0044), a wait for this process's own connection limit. The streak of
  // failures stays as it was; a probe that ends so leaves the endpoint ejected and the next call
  // after the cool-down probes again.
  kInconclusive,
};

struct Pick {
  std::shared_ptr<EndpointState> state;  // null when `failure` says why
  PickFailure failure = PickFailure::kNoEndpoints;
  Millis retry_after{0};  // kAllEjected: until the first cool-down ends
  bool probe = false;     // this call is the endpoint's half-open probe
};

class Balancer final : public EndpointSet {
 public:
  Balancer(const Clock& clock, BreakerOptions options);

  void Update(std::vector<Endpoint> endpoints) override;

  // The endpoint with the fewest outstanding calls among those not ejected, preferring ones not
  // in `tried` (a retry goes elsewhere when it can); ties go round robin. Counts the call as
  // outstanding until Finish.
  // `affinity` != 0 (e.g. a member id): instead the available endpoint that ranks highest for
  // that key (rendezvous hashing), so a key's calls keep going to one endpoint while it is
  // available, every balancer with the same set agrees on it, and when the set changes only the
  // keys of the endpoints that came or went move.
  Pick Choose(std::span<const EndpointState* const> tried, std::uint64_t affinity = 0);
  // The end of a call picked by Choose, with what it says of the endpoint. Returns true when this
  // report ejected the endpoint.
  bool Finish(const Pick& pick, Verdict verdict);
  bool Finish(const Pick& pick, bool failed) {
    return Finish(pick, failed ? Verdict::kFailed : Verdict::kHealthy);
  }
  // Until the first ejected endpoint may be probed (0 when one may be picked now).
  Millis RetryAfter() const;

  // Called (outside the lock) with the states that left the set, to close their idle connections.
  void OnRemoved(std::function<void(std::shared_ptr<EndpointState>)> on_removed) {
    on_removed_ = std::move(on_removed);
  }
  std::vector<std::shared_ptr<EndpointState>> Snapshot() const;

 private:
  bool Available(EndpointState& s, TimePoint now) const;

  const Clock& clock_;
  const BreakerOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<EndpointState>> states_;
  std::size_t next_ = 0;  // round-robin start for ties
  std::function<void(std::shared_ptr<EndpointState>)> on_removed_;
};

}  // namespace rocketmart::http::client

// The gateway's request rate limits (issues 14 + 15): the server's RequestGate. Every request of
// a route that is not exempt counts against its client address (Request::client: the peer, or
// what a trusted proxy reports, so a client's own X-Forwarded-For changes nothing) and, when it
// carries a valid access token, against its member; both in one call to the limiter, all or
// nothing. Over a limit: 429 RATE_LIMITED with Retry-After (whole seconds, at least 1), and the
// request goes no further.
//
// The limiter unreachable (Redis down or slow): the request goes ahead (fail open), counted in
// gateway_rate_limiter_unavailable_total. A limiter outage must not take the shop down, and it
// protects nothing the services do not protect themselves: the purchase path's own admission
// (per-member limit, stock) and the database guard decide every sale, and login has its own
// throttles (members).
//
// Metrics: gateway_rate_limited_total{limit="member"|"ip"} (refusals by the limit that refused),
// gateway_rate_limiter_unavailable_total. Thread-safe.
#pragma once

#include <array>
#include <atomic>

#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/gateway/ports/request_rate_limiter.hpp"

namespace rocketmart::gateway {

struct RateLimits {
  RateLimit per_member;   // per_second 0 = off
  RateLimit per_address;  // per_second 0 = off
  bool any() const { return per_member.per_second > 0 || per_address.per_second > 0; }
};

class RateLimitGate final : public http::RequestGate {
 public:
  RateLimitGate(RequestRateLimiter& limiter, RateLimits limits, metrics::Registry& metrics);

  bool AdmitNow(const http::Request& req, std::optional<http::Response>& refusal) const override;
  boost::asio::awaitable<std::optional<http::Response>> Admit(
      const http::Request& req) const override;

 private:
  using Checks = std::array<RateCheck, 2>;
  std::size_t ChecksFor(const http::Request& req, Checks& checks) const;
  std::optional<http::Response> Answer(const Result<RateVerdict>& verdict,
                                       std::span<const RateCheck> checks) const;

  RequestRateLimiter& limiter_;
  const RateLimits limits_;
  metrics::Counter& refused_member_;
  metrics::Counter& refused_ip_;
  metrics::Counter& unavailable_;
};

}  // namespace rocketmart::gateway

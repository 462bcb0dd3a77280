#include "services/gateway/rate_limit_gate.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

namespace rocketmart::gateway {

namespace {
constexpr const char* kRefusedHelp = "Requests refused 429 RATE_LIMITED by the gateway, by limit";
}

RateLimitGate::RateLimitGate(RequestRateLimiter& limiter, RateLimits limits,
                             metrics::Registry& metrics)
    : limiter_(limiter),
      limits_(limits),
      refused_member_(
          metrics.GetCounter("gateway_rate_limited_total", kRefusedHelp, "limit=\"member\"")),
      refused_ip_(metrics.GetCounter("gateway_rate_limited_total", kRefusedHelp, "limit=\"ip\"")),
      unavailable_(metrics.GetCounter("gateway_rate_limiter_unavailable_total",
                                      "Requests let through without a rate-limit decision: the "
                                      "limiter's store did not answer")) {}

std::size_t RateLimitGate::ChecksFor(const http::Request& req, Checks& checks) const {
  std::size_t n = 0;
  if (limits_.per_address.per_second > 0) {
    checks[n++] = RateCheck{RateKey::Address(req.client), limits_.per_address};
  }
  if (limits_.per_member.per_second > 0 && req.identity) {
    checks[n++] = RateCheck{RateKey::Member(req.identity->member_id), limits_.per_member};
  }
  return n;
}

std::optional<http::Response> RateLimitGate::Answer(const Result<RateVerdict>& verdict,
                                                    std::span<const RateCheck> checks) const {
  if (!verdict.ok()) {
    // Fail open (see the header): count it, and say so now and then, not per request.
    unavailable_.Add();
    const std::uint64_t n = unavailable_.Value();
    if (n == 1 || n % 10'000 == 0) {
      spdlog::warn("gateway: rate limiter unavailable ({}); {} requests let through unlimited",
                   verdict.error().message, n);
    }
    return std::nullopt;
  }
  if (verdict->allowed()) return std::nullopt;
  const RateCheck& refused = checks[static_cast<std::size_t>(verdict->refused)];
  const bool member = refused.key.scope() == RateKey::Scope::kMember;
  (member ? refused_member_ : refused_ip_).Add();
  const auto seconds = std::max<std::int64_t>(
      1, std::chrono::ceil<std::chrono::seconds>(verdict->retry_after).count());
  http::Response res = http::ErrorResponse(
      MakeError(Errc::kRateLimited, std::string("too many requests from this ") +
                                        (member ? "member" : "address") + "; retry in " +
                                        std::to_string(seconds) + " seconds"));
  res.set(http::beast_http::field::retry_after, std::to_string(seconds));
  return res;
}

bool RateLimitGate::AdmitNow(const http::Request& req,
                             std::optional<http::Response>& refusal) const {
  Checks checks;
  const std::size_t n = ChecksFor(req, checks);
  if (n == 0) return true;
  const std::span<const RateCheck> span(checks.data(), n);
  std::optional<Result<RateVerdict>> verdict = limiter_.TryAcquireNow(span);
  if (!verdict) return false;
  refusal = Answer(*verdict, span);
  return true;
}

boost::asio::awaitable<std::optional<http::Response>> RateLimitGate::Admit(
    const http::Request& req) const {
  Checks checks;
  const std::size_t n = ChecksFor(req, checks);
  if (n == 0) co_return std::nullopt;
  const std::span<const RateCheck> span(checks.data(), n);
  Result<RateVerdict> verdict = co_await limiter_.Acquire(span);
  co_return Answer(verdict, span);
}

}  // namespace rocketmart::gateway

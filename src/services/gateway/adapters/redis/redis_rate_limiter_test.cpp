// The rate limits with Redis down (issue 14): the limiter answers an error fast (at once while the
// client backs off), and the gateway's gate lets the request through (fail open) and counts it.
#include "services/gateway/adapters/redis/redis_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "infra/async/run.hpp"
#include "services/gateway/rate_limit_gate.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::gateway {
namespace {

using SteadyClock = std::chrono::steady_clock;

TEST(RedisRateLimiter, RedisDownTheLimiterFailsFastAndTheGateLetsRequestsThroughCountingThem) {
  testing::LocalRedis server;
  redis::IoThread loop("redis-gateway");
  redis::Client client({loop.executor()}, redis::ParseEndpoint(server.tcp_url()).value());
  RedisRateLimiter limiter(client, testing::NewKeyPrefix());
  metrics::Registry metrics;
  RateLimitGate gate(
      limiter, RateLimits{.per_member = {}, .per_address = {.per_second = 1, .burst = 1}}, metrics);

  http::RawRequest raw{http::Method::get, "/products", 11};
  http::Request req{raw, "/products", {}, {}, std::nullopt, "r1", {}, {}, {}};
  req.client = boost::asio::ip::make_address("192.0.2.1");
  std::optional<http::Response> refusal;
  ASSERT_FALSE(gate.AdmitNow(req, refusal)) << "a shared store is awaited";
  EXPECT_FALSE(async::RunToCompletion(gate.Admit(req)).has_value());
  std::optional<http::Response> second = async::RunToCompletion(gate.Admit(req));
  ASSERT_TRUE(second.has_value()) << "the limit works while Redis is up";
  EXPECT_EQ(second->result_int(), 429u);

  server.Stop();
  for (int i = 0; i < 20; ++i) {
    const auto began = SteadyClock::now();
    std::optional<http::Response> answer = async::RunToCompletion(gate.Admit(req));
    const auto took = SteadyClock::now() - began;
    EXPECT_FALSE(answer.has_value()) << "fail open: the request goes ahead";
    // The first may wait for the lost connection to show (within the client's 1 s deadline);
    // the others fail at once while the client backs off.
    EXPECT_LT(took, i == 0 ? std::chrono::milliseconds(1500) : std::chrono::milliseconds(100));
  }
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("gateway_rate_limiter_unavailable_total 20"), std::string::npos) << text;
  EXPECT_NE(text.find("gateway_rate_limited_total{limit=\"ip\"} 1"), std::string::npos) << text;
  client.Close();
}

}  // namespace
}  // namespace rocketmart::gateway

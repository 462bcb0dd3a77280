// The gateway's request rate limits over HTTP (issues 14 + 15, docs/config.md [gateway]): the
// real binary with small limits set through the environment.
//  - over the per-member limit: 429 RATE_LIMITED with Retry-After (whole seconds, >= 1); other
//    members unaffected; after the wait the server asked for, allowed again;
//  - the per-address limit counts the client the server vouches for: an X-Forwarded-For from an
//    untrusted peer dodges nothing (G11); /health and the storefront's files are exempt;
//  - two `serve` processes sharing one Redis (same key prefix and signing key) share a member's
//    budget.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "support/http_client.hpp"
#include "support/local_redis.hpp"
#include "support/server_process.hpp"

namespace rocketmart::testing {
namespace {

std::map<std::string, std::string> Limits(int member_rate, int member_burst, int ip_rate,
                                          int ip_burst) {
  return {{"ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S", std::to_string(member_rate)},
          {"ROCKETMART_GATEWAY_BURST_PER_MEMBER", std::to_string(member_burst)},
          {"ROCKETMART_GATEWAY_RATE_PER_IP_PER_S", std::to_string(ip_rate)},
          {"ROCKETMART_GATEWAY_BURST_PER_IP", std::to_string(ip_burst)}};
}

void ExpectRateLimited(const HttpResponse& r) {
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.ErrorCode(), "RATE_LIMITED") << r.body;
  const std::string retry_after = r.Header("retry-after");
  ASSERT_FALSE(retry_after.empty()) << "Retry-After";
  EXPECT_GE(std::stoi(retry_after), 1);
  EXPECT_LE(std::stoi(retry_after), 2);
}

TEST(RateLimit, OverTheMemberLimitA429WithRetryAfterOthersUnaffectedAllowedAgainAfterTheWait) {
  ServerOptions options;
  options.env = Limits(1, 3, 0, 1);  // 1 per second, 3 at once; no per-address limit
  ServerProcess server(options);
  HttpClient c(server.port());
  const std::string alice = server.Token(1);
  const std::string bob = server.Token(2);

  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.Get("/order", alice).status, 200) << i;
  const HttpResponse refused = c.Get("/order", alice);
  ExpectRateLimited(refused);
  // Nothing else happened: a refused purchase creates nothing (the request reached no service).
  ExpectRateLimited(c.PostJson("/payment/request", R"({"productId":1,"amount":1})", alice,
                               {{"Idempotency-Key", "rl-1"}}));
  // Another member has a budget of their own.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(c.Get("/order", bob).status, 200) << i;
  // Exempt routes answer whatever the budget.
  EXPECT_EQ(c.Get("/health", alice).status, 200);

  // After the wait the server asked for, one more.
  std::this_thread::sleep_for(std::chrono::seconds(std::stoi(refused.Header("retry-after"))));
  EXPECT_EQ(c.Get("/order", alice).status, 200);
  ExpectRateLimited(c.Get("/order", alice));

  const HttpResponse metrics = HttpClient(server.admin_port()).Get("/metrics");
  EXPECT_NE(metrics.body.find("gateway_rate_limited_total{limit=\"member\"}"), std::string::npos);
}

TEST(RateLimit, ASpoofedForwardedForFromAnUntrustedPeerDodgesNothing) {
  ServerOptions options;
  options.env = Limits(0, 1, 1, 2);  // per address: 1 per second, 2 at once
  ServerProcess server(options);
  HttpClient c(server.port());
  EXPECT_EQ(c.Get("/products").status, 200);
  EXPECT_EQ(c.Request("GET", "/products", "", {{"X-Forwarded-For", "203.0.113.7"}}).status, 200);
  // The budget of 127.0.0.1 is spent, whatever address the client claims to be.
  ExpectRateLimited(c.Request("GET", "/products", "", {{"X-Forwarded-For", "203.0.113.8"}}));
  ExpectRateLimited(c.Request("GET", "/products", "", {{"Forwarded", "for=198.51.100.9"}}));
  ExpectRateLimited(c.Get("/products"));
  // A token does not buy an address more budget either.
  ExpectRateLimited(c.Get("/order", server.Token(3)));
  // Exempt: health checks and the storefront's pages.
  EXPECT_EQ(c.Get("/health").status, 200);
  EXPECT_NE(c.Get("/").status, 429);
}

TEST(RateLimit, TwoServersSharingOneRedisShareAMembersBudget) {
  LocalRedis& redis = SharedLocalRedis();
  ServerOptions first_options;
  first_options.env = Limits(1, 4, 0, 1);
  first_options.env["ROCKETMART_REDIS_URL"] = redis.tcp_url();
  first_options.env["ROCKETMART_REDIS_KEY_PREFIX"] = NewKeyPrefix();
  ServerProcess first(first_options);
  ServerOptions second_options = first_options;
  second_options.env["ROCKETMART_AUTH_SECRET_FILE"] =
      (first.data_dir() / "secrets" / "jwt.key").string();
  ServerProcess second(second_options);
  HttpClient c1(first.port());
  HttpClient c2(second.port());
  const std::string token = first.Token(5);

  EXPECT_EQ(c1.Get("/order", token).status, 200);
  EXPECT_EQ(c2.Get("/order", token).status, 200);
  EXPECT_EQ(c1.Get("/order", token).status, 200);
  EXPECT_EQ(c2.Get("/order", token).status, 200);
  // Four in all, over two servers: the fifth is refused by either.
  ExpectRateLimited(c1.Get("/order", token));
  ExpectRateLimited(c2.Get("/order", token));
  // Another member's budget is untouched.
  EXPECT_EQ(c2.Get("/order", first.Token(6)).status, 200);
}

}  // namespace
}  // namespace rocketmart::testing

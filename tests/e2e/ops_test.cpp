// The operator's view of the real binary: the admin listener (issue 11 point 11), Prometheus
// exposition, logs and trace context (point 15).
#include <gtest/gtest.h>

#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace rocketmart::testing {
namespace {

TEST(Ops, MetricsAreServedOnTheAdminListenerOnly) {
  ServerProcess server;
  ASSERT_NE(server.admin_port(), 0) << "no admin listener announced";
  EXPECT_EQ(HttpClient(server.port()).Get("/metrics").status, 404);
  auto metrics = HttpClient(server.admin_port()).Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_NE(metrics.body.find("http_connections_active{listener=\"public\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("http_connections_active{listener=\"admin\"}"), std::string::npos);
  // Nothing but /metrics on the admin listener.
  HttpClient admin(server.admin_port());
  EXPECT_EQ(admin.Get("/health").status, 404);
  EXPECT_EQ(admin.Get("/products").status, 404);
}

TEST(Ops, AConfiguredMetricsTokenIsRequired) {
  const std::string token = "an operator token of more than 32 bytes";
  ServerProcess server({.env = {{"ROCKETMART_OPS_METRICS_TOKEN", token}}});
  HttpClient admin(server.admin_port());
  auto none = admin.Get("/metrics");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.ErrorCode(), "UNAUTHENTICATED");
  EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(none.body.find("http_requests_total"), std::string::npos);
  std::string wrong = token;
  wrong.back() = 'X';
  EXPECT_EQ(admin.Get("/metrics", wrong).status, 401);
  EXPECT_EQ(admin.Get("/metrics", token + "x").status, 401);
  EXPECT_EQ(admin.Get("/metrics", token.substr(1)).status, 401);
  auto right = admin.Get("/metrics", token);
  EXPECT_EQ(right.status, 200);
  EXPECT_NE(right.body.find("http_requests_total"), std::string::npos);
}

TEST(Ops, TheAdminListenerCanBeTurnedOff) {
  ServerProcess server({.env = {{"ROCKETMART_SERVER_ADMIN_PORT", "-1"}}});
  EXPECT_EQ(server.admin_port(), 0);
  EXPECT_EQ(HttpClient(server.port()).Get("/metrics").status, 404);
  EXPECT_EQ(HttpClient(server.port()).Get("/health").status, 200);
}

}  // namespace
}  // namespace rocketmart::testing

#include "services/gateway/proxy/route_table.hpp"

#include <gtest/gtest.h>

#include "services/gateway/proxy/proxy.hpp"

namespace rocketmart::gateway {
namespace {

TEST(RouteTable, EachApiPrefixGoesToItsService) {
  EXPECT_EQ(OwnerOf("/payment/request"), "checkout");
  EXPECT_EQ(OwnerOf("/payment/{productId}/sale"), "checkout");
  EXPECT_EQ(OwnerOf("/products"), "catalog");
  EXPECT_EQ(OwnerOf("/products/{id}/like"), "catalog");
  EXPECT_EQ(OwnerOf("/cart/checkout"), "catalog");
  EXPECT_EQ(OwnerOf("/order"), "orders");
  EXPECT_EQ(OwnerOf("/order/return/{id}"), "orders");
  EXPECT_EQ(OwnerOf("/admin/orders/{id}/advance"), "orders");
  EXPECT_EQ(OwnerOf("/admin/sales/{productId}/summary"), "orders");
  EXPECT_EQ(OwnerOf("/admin/members"), "members");
  EXPECT_EQ(OwnerOf("/member/signup"), "members");
  EXPECT_EQ(OwnerOf("/auth/login"), "members");
}

TEST(RouteTable, LiveStockStreamsAreCheckouts) {
  EXPECT_EQ(OwnerOf("/products/{id}/stock/stream"), "checkout");
  EXPECT_EQ(OwnerOf("/products/7/stock/stream"), "checkout");
  EXPECT_EQ(OwnerOf("/stock/stream"), "checkout");
}

TEST(RouteTable, WholeSegmentsOnlyAndTheGatewaysOwn) {
  EXPECT_EQ(OwnerOf("/orders"), std::nullopt);
  EXPECT_EQ(OwnerOf("/membership"), std::nullopt);
  for (const char* own : {"/", "/health", "/openapi.json", "/time", "/shop/{id}", "/assets/{file}",
                          "/operator/{page}/{id}", "/account"}) {
    EXPECT_EQ(OwnerOf(own), std::nullopt) << own;
  }
}

TEST(RouteTable, TheRoutesThatEndSessionsAreCaughtUpOn) {
  for (const char* path :
       {"/auth/refresh", "/auth/logout", "/auth/logout-all", "/member/reset-password"}) {
    EXPECT_TRUE(EndsSessions("POST", path)) << path;
  }
  EXPECT_TRUE(EndsSessions("PUT", "/member/update-password"));
  EXPECT_FALSE(EndsSessions("GET", "/member/reset-password"));  // the page, not the reset
  EXPECT_FALSE(EndsSessions("POST", "/auth/login"));
  EXPECT_FALSE(EndsSessions("PUT", "/member/update-profile"));
  EXPECT_FALSE(EndsSessions("POST", "/payment/request"));
}

TEST(ProxyHeaders, IdentityAndAddressClaimsFromClientsAreStripped) {
  for (const char* name : {"Authorization", "x-rocketmart-identity", "X-User-Id", "X-Member-Id",
                           "X-Forwarded-For", "x-forwarded-host", "Forwarded", "X-Real-IP"}) {
    EXPECT_TRUE(IsStrippedRequestHeader(name)) << name;
  }
  for (const char* name : {"Idempotency-Key", "Content-Type", "Accept", "Last-Event-ID"}) {
    EXPECT_FALSE(IsStrippedRequestHeader(name)) << name;
  }
}

}  // namespace
}  // namespace rocketmart::gateway

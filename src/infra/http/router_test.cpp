#include "infra/http/router.hpp"

#include <gtest/gtest.h>

namespace rocketmart::http {
namespace {

Handler Noop() {
  return [](Request&) -> boost::asio::awaitable<Response> { co_return NoContent(); };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Method::get, "/products", {}, Noop());
    router_.Add(Method::get, "/products/{id}", {}, Noop());
    router_.Add(Method::put, "/products/{id}", {}, Noop());
    router_.Add(Method::get, "/products/wishlist", {}, Noop());
    router_.Add(Method::put, "/products/{id}/like", {}, Noop());
    router_.Add(Method::get, "/products/detail/{id}", {}, Noop());
    router_.Add(Method::post, "/payment/holds/{id}/pay", {}, Noop());
  }
  Match Find(Method m, std::string_view path) {
    params_.clear();
    return router_.Find(m, path, params_);
  }
  Router router_;
  std::vector<std::pair<std::string_view, std::string_view>> params_;
};

TEST_F(RouterTest, MatchesLiteralsAndParameters) {
  auto m = Find(Method::get, "/products/42");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/products/{id}");
  ASSERT_EQ(params_.size(), 1u);
  EXPECT_EQ(params_[0].first, "id");
  EXPECT_EQ(params_[0].second, "42");
}

TEST_F(RouterTest, LiteralSegmentWinsOverParameter) {
  auto m = Find(Method::get, "/products/wishlist");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/products/wishlist");
  EXPECT_TRUE(params_.empty());
}

TEST_F(RouterTest, BacktracksFromLiteralToParameter) {
  // "wishlist" is a literal child with nothing below it: "/products/wishlist/like" only exists
  // through {id}.
  router_.Add(Method::get, "/products/{id}/like", {}, Noop());
  auto m = Find(Method::get, "/products/wishlist/like");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/products/{id}/like");
  ASSERT_EQ(params_.size(), 1u);
  EXPECT_EQ(params_[0].second, "wishlist");
}

TEST_F(RouterTest, NestedParameters) {
  auto m = Find(Method::post, "/payment/holds/7/pay");
  ASSERT_NE(m.route, nullptr);
  ASSERT_EQ(params_.size(), 1u);
  EXPECT_EQ(params_[0].second, "7");
}

TEST_F(RouterTest, WrongMethodReportsAllowedMethods) {
  auto m = Find(Method::delete_, "/products/1");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_TRUE(m.path_known);
  EXPECT_EQ(m.allowed_methods, "GET, PUT");
}

TEST_F(RouterTest, UnknownPathsDoNotMatch) {
  for (const char* path : {"/", "", "products", "/products/", "/products//like", "/nope",
                           "/products/1/like/extra", "/products/1/"}) {
    auto m = Find(Method::get, path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_FALSE(m.path_known) << path;
  }
}

TEST_F(RouterTest, RejectsDuplicatesAndMalformedPatterns) {
  EXPECT_THROW(router_.Add(Method::get, "/products", {}, Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::get, "products", {}, Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::get, "/a//b", {}, Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Method::get, "/products/{other}/x", {}, Noop()), std::invalid_argument);
}

}  // namespace
}  // namespace rocketmart::http

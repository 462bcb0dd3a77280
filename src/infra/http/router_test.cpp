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

// The route rules the server enforces before any handler (issue 11 points 12 and 13).

RouteOptions Declaring(std::vector<std::string_view> query) {
  return RouteOptions{.query = std::move(query)};
}

TEST(RouteRules, DeclaredQueryParametersPass) {
  const RouteOptions options = Declaring({"limit", "cursor", "q"});
  for (const char* query : {"", "limit=5", "limit=5&cursor=abc", "q=&limit=1", "q", "limit=1&",
                            "&limit=1", "limit=1&&q=x", "q=a%26b"}) {
    EXPECT_TRUE(CheckQuery(options, query).ok()) << query;
  }
}

TEST(RouteRules, UnknownQueryParametersAreRefusedByName) {
  const RouteOptions options = Declaring({"limit"});
  const std::pair<const char*, const char*> cases[] = {
      {"bogus=1", "bogus"},
      {"limit=1&bogus", "bogus"},
      {"LIMIT=1", "LIMIT"},
      {"%6Cimit=1", "%6Cimit"},
      {"=1", ""},
      {"limit%3D1", "limit%3D1"},
      {"limit[]=1", "limit[]"},
  };
  for (const auto& [query, field] : cases) {
    const auto st = CheckQuery(options, query);
    ASSERT_FALSE(st.ok()) << query;
    EXPECT_EQ(st.error().code, Errc::kValidationFailed);
    EXPECT_EQ(st.error().field, field) << query;
    EXPECT_EQ(st.error().message, "unknown query parameter");
  }
  // A route that declares nothing takes no query at all.
  EXPECT_EQ(CheckQuery(RouteOptions{}, "x=1").error().field, "x");
  EXPECT_TRUE(CheckQuery(RouteOptions{}, "").ok());
}

TEST(RouteRules, RepeatedQueryParametersAreRefused) {
  const RouteOptions options = Declaring({"limit", "cursor"});
  for (const char* query : {"limit=1&limit=2", "limit=1&cursor=x&limit=1", "limit&limit"}) {
    const auto st = CheckQuery(options, query);
    ASSERT_FALSE(st.ok()) << query;
    EXPECT_EQ(st.error().code, Errc::kValidationFailed);
    EXPECT_EQ(st.error().field, "limit") << query;
  }
}

// A web page reads its own query (and a link shared with tracking parameters must still open).
TEST(RouteRules, PagesTakeAnyQuery) {
  RouteOptions page;
  page.page = true;
  for (const char* query : {"token=abc", "next=/drop/1&utm_source=mail", "q=a&q=b", "x"}) {
    EXPECT_TRUE(CheckQuery(page, query).ok()) << query;
  }
}

TEST(RouteRules, BodylessRoutesTakeNothingOrAnEmptyObject) {
  const RouteOptions none{.body = BodyRule::kNone};
  for (const char* body : {"", "{}", " {} ", "{ }", "\r\n{\t}\n", "  {\n\n}"}) {
    EXPECT_TRUE(CheckBody(none, body).ok()) << body;
  }
  for (const char* body : {" ", "\n", "x", "{", "}", "{}}", "{}{}", "[]", "null", "\"\"", "0",
                           R"({"a":1})", "{} x", "{\v}", "\xef\xbb\xbf{}"}) {
    const auto st = CheckBody(none, body);
    ASSERT_FALSE(st.ok()) << body;
    EXPECT_EQ(st.error().code, Errc::kValidationFailed) << body;
  }
  // A JSON route hands any body to its handler, which decodes it.
  EXPECT_TRUE(CheckBody(RouteOptions{.body = BodyRule::kJson}, "x").ok());
}

TEST(RouteRules, AddResolvesTheBodyRuleByMethodAndCapsBodylessBodies) {
  Router router;
  router.Add(Method::get, "/a", {}, Noop());
  router.Add(Method::delete_, "/a", {}, Noop());
  router.Add(Method::post, "/a", {}, Noop());
  router.Add(Method::put, "/a", {.body = BodyRule::kNone}, Noop());
  const auto& routes = router.routes();
  EXPECT_EQ(routes[0]->options.body, BodyRule::kNone);
  EXPECT_EQ(routes[1]->options.body, BodyRule::kNone);
  EXPECT_EQ(routes[2]->options.body, BodyRule::kJson);
  EXPECT_EQ(routes[3]->options.body, BodyRule::kNone);
  EXPECT_EQ(routes[0]->options.max_body_bytes, kNoBodyLimit);
  EXPECT_EQ(routes[2]->options.max_body_bytes, 0u);
  EXPECT_THROW(router.Add(Method::get, "/b", Declaring({"x", "y", "x"}), Noop()),
               std::invalid_argument);
}

}  // namespace
}  // namespace rocketmart::http

namespace rocketmart::http {
namespace {

// A 503 is always transient: it tells the client when to come back; other errors do not.
TEST(ErrorAnswers, EveryServiceUnavailableAnswerSaysWhenToRetry) {
  for (Errc code : {Errc::kOverloaded, Errc::kTimeout, Errc::kUnavailable}) {
    const Response res = ErrorResponse(MakeError(code, "try later"));
    EXPECT_EQ(res.result(), Status::service_unavailable);
    EXPECT_EQ(res[beast_http::field::retry_after], "1") << ErrcName(code);
  }
  const Response conflict = ErrorResponse(MakeError(Errc::kSoldOut, "gone"));
  EXPECT_EQ(conflict.find(beast_http::field::retry_after), conflict.end());
}

}  // namespace
}  // namespace rocketmart::http

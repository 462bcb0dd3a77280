// The rules every route follows, end to end (issue 11 points 12 and 13): a route that takes no body
// accepts an empty body or `{}` and refuses anything else with one answer; a route refuses query
// parameters it does not declare (and repeated ones) as it refuses unknown body fields; and the
// parameters it declares are the ones api/openapi.json documents.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/source_file.hpp"

namespace rocketmart::testing {
namespace {

constexpr const char* kMissing = "999999";

std::string Field(const HttpResponse& r) {
  try {
    const boost::json::value body = r.Json();
    const auto& error = body.at("error").as_object();
    if (const auto* details = error.if_contains("details")) {
      return std::string(details->as_object().at("field").as_string());
    }
  } catch (const std::exception&) {
  }
  return "<none>";
}

std::string Message(const HttpResponse& r) {
  try {
    return std::string(r.Json().at("error").at("message").as_string());
  } catch (const std::exception&) {
    return "";
  }
}

struct Bodyless {
  std::string method;
  std::string target;
  bool admin = false;
};

TEST(ApiRules, BodylessRoutesTakeNothingOrAnEmptyObjectAndRefuseAnythingElse) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  const std::string p = std::to_string(product);
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  const std::string buyer = server.FastToken(5);
  const std::string missing = kMissing;
  const std::vector<Bodyless> routes = {
      {"POST", "/cart/checkout"},
      {"POST", "/payment/holds/" + missing + "/pay"},
      {"DELETE", "/payment/holds/" + missing},
      {"PUT", "/products/" + missing + "/like"},
      {"DELETE", "/products/" + missing + "/like"},
      {"POST", "/products/like/" + missing},
      {"DELETE", "/products/" + missing, true},
      {"DELETE", "/products/wishlist/" + missing},
      {"DELETE", "/cart/items/" + missing},
      {"DELETE", "/cart"},
      {"DELETE", "/order/" + missing},
      {"POST", "/order/return/" + missing},
      {"POST", "/auth/logout-all"},
      {"GET", "/cart"},
      {"GET", "/products/" + p},
  };
  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"({"x":1})", "application/json"}, {"[]", "application/json"}, {"null", "application/json"},
      {"{}{}", "application/json"},       {"{", "application/json"},  {"x", "text/plain"},
      {"{} x", "application/json"},
  };
  const std::vector<std::pair<std::string, std::string>> accepted = {
      {"", ""},
      {"{}", "application/json"},
      {" {\r\n} \n", "application/json"},
      {"{}", "text/plain"}};
  const std::string likes_before = c.Get("/products/" + p).body;
  for (const auto& route : routes) {
    if (route.target == "/auth/logout-all") continue;  // below, last: it ends the session
    const std::string& token = route.admin ? admin : buyer;
    for (const auto& [body, type] : refused) {
      std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token}};
      headers["Content-Type"] = type;
      auto r = c.Request(route.method, route.target, body, headers);
      EXPECT_EQ(r.status, 400) << route.method << " " << route.target << " " << body << " -> "
                               << r.body;
      EXPECT_EQ(r.ErrorCode(), "VALIDATION_FAILED") << route.method << " " << route.target;
    }
    for (const auto& [body, type] : accepted) {
      std::map<std::string, std::string> headers{{"Authorization", "Bearer " + token}};
      if (!type.empty()) headers["Content-Type"] = type;
      auto r = c.Request(route.method, route.target, body, headers);
      EXPECT_NE(r.status, 400) << route.method << " " << route.target << " '" << body << "' -> "
                               << r.body;
      EXPECT_LT(r.status, 500) << route.method << " " << route.target;
    }
  }
  // The refused likes changed nothing; `{}` likes for real.
  auto refused_like = c.PostJson("/products/like/" + p, R"({"liked":true})", buyer);
  EXPECT_EQ(refused_like.status, 400);
  EXPECT_EQ(c.Get("/products/" + p).Json().at("likes").as_int64(), 0) << likes_before;
  auto liked = c.PostJson("/products/like/" + p, "{}", buyer);
  ASSERT_EQ(liked.status, 200) << liked.body;
  EXPECT_TRUE(liked.Json().at("likedByMe").as_bool());

  // logout-all: a body is refused (the session stays), `{}` ends every session.
  const std::string leaving = server.FastToken(6);
  EXPECT_EQ(c.PostJson("/auth/logout-all", R"({"all":true})", leaving).ErrorCode(),
            "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/cart", leaving).status, 200);
  EXPECT_EQ(c.PostJson("/auth/logout-all", "{}", leaving).status, 204);
}

TEST(ApiRules, AnEmptyObjectRetriesABodylessRequestUnderTheSameIdempotencyKey) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  HttpClient c(server.port());
  const std::string buyer = server.FastToken(5);
  auto hold = c.PostJson("/payment/holds",
                         R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", buyer);
  ASSERT_EQ(hold.status, 201) << hold.body;
  const std::string pay =
      "/payment/holds/" + std::to_string(hold.Json().at("holdId").as_int64()) + "/pay";
  auto paid = c.PostJson(pay, "", buyer, {{"Idempotency-Key", "pay-once"}});
  ASSERT_EQ(paid.status, 200) << paid.body;
  // The retry adds `{}` (many clients do): the same request, answered from the first.
  auto retried = c.PostJson(pay, " {} ", buyer, {{"Idempotency-Key", "pay-once"}});
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(retried.body, paid.body);
  EXPECT_EQ(retried.Header("Idempotent-Replayed"), "true");

  // The same for a cart checkout.
  ASSERT_EQ(c.PutJson("/cart/items/" + std::to_string(product), R"({"quantity":1})", buyer).status,
            200);
  auto bought = c.PostJson("/cart/checkout", "{}", buyer, {{"Idempotency-Key", "cart-once"}});
  ASSERT_EQ(bought.status, 201) << bought.body;
  auto again = c.PostJson("/cart/checkout", "", buyer, {{"Idempotency-Key", "cart-once"}});
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(again.body, bought.body);
  EXPECT_EQ(again.Header("Idempotent-Replayed"), "true");
}

TEST(ApiRules, UnknownOrRepeatedQueryParametersAnswer400AndChangeNothing) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  HttpClient c(server.port());
  const std::string buyer = server.FastToken(5);
  const std::string admin = server.FastToken(1, true);
  struct Case {
    std::string target;
    std::string token;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/products?bogus=1", "", "bogus"},
      {"/products?limit=1&limit=2", "", "limit"},
      {"/products?limit=5&Sort=name", "", "Sort"},
      {"/products/" + std::to_string(product) + "?verbose", "", "verbose"},
      {"/health?x=1", "", "x"},
      {"/order?page=2", buyer, "page"},
      {"/order?cursor=5&cursor=6", buyer, "cursor"},
      {"/admin/orders?member=5", admin, "member"},
      {"/member/verify?token=a&token=b", "", "token"},
  };
  for (const auto& bc : cases) {
    auto r = c.Get(bc.target, bc.token);
    EXPECT_EQ(r.status, 400) << bc.target << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), "VALIDATION_FAILED") << bc.target;
    EXPECT_EQ(Field(r), bc.field) << bc.target << " -> " << r.body;
  }
  // The declared ones still work.
  EXPECT_EQ(c.Get("/products?limit=5&sort=name&q=Drop").status, 200);
  EXPECT_EQ(c.Get("/order?limit=5", buyer).status, 200);
  // A purchase with a stray parameter is refused before anything is bought.
  auto bought = c.PostJson("/payment/request?amount=3",
                           R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", buyer);
  EXPECT_EQ(bought.status, 400) << bought.body;
  EXPECT_EQ(Field(bought), "amount");
  EXPECT_EQ(c.Get("/products/" + std::to_string(product)).Json().at("stock").as_int64(), 10);
}

// Walks api/openapi.json: every operation refuses a parameter it does not document, and for GET
// operations, a parameter from a list of plausible names is accepted exactly when documented.
TEST(ApiRules, EveryRouteAcceptsExactlyTheQueryParametersItsContractDocuments) {
  ServerProcess server;
  HttpClient public_client(server.port());
  HttpClient admin_client(server.admin_port());  // GET /metrics: the admin listener
  const std::string admin = server.FastToken(1, true);
  const auto doc = boost::json::parse(SourceFile("api/openapi.json")).as_object();
  const std::vector<std::string> plausible = {
      "limit",    "cursor", "q",      "sort", "saleState", "status", "token",  "productId",
      "memberId", "page",   "offset", "id",   "email",     "expand", "fields", "include"};
  const auto is_refused_as_unknown = [](const HttpResponse& r, const std::string& name) {
    return r.status == 400 && Field(r) == name && Message(r) == "unknown query parameter";
  };
  int operations = 0;
  for (const auto& [path_key, item_value] : doc.at("paths").as_object()) {
    const auto& item = item_value.as_object();
    std::string target(path_key);
    for (std::size_t open; (open = target.find('{')) != std::string::npos;) {
      target.replace(open, target.find('}', open) - open + 1, kMissing);
    }
    std::set<std::string> path_level;
    if (const auto* params = item.if_contains("parameters")) {
      for (const auto& prm : params->as_array()) {
        if (prm.at("in") == "query") path_level.insert(std::string(prm.at("name").as_string()));
      }
    }
    // A path that names its own server (the admin listener) is called there.
    HttpClient& c = item.contains("servers") ? admin_client : public_client;
    for (const auto& [method_key, op_value] : item) {
      if (!op_value.is_object() || method_key == "parameters") continue;
      std::string method(method_key);
      for (char& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      std::set<std::string> documented = path_level;
      if (const auto* params = op_value.as_object().if_contains("parameters")) {
        for (const auto& prm : params->as_array()) {
          if (prm.at("in") == "query") documented.insert(std::string(prm.at("name").as_string()));
        }
      }
      ++operations;
      const std::map<std::string, std::string> headers{{"Authorization", "Bearer " + admin},
                                                       {"Content-Type", "application/json"}};
      auto r =
          c.Request(method, target + "?zzUndocumented=1", method == "GET" ? "" : "{}", headers);
      if (op_value.as_object().contains("x-any-query")) {
        // A web page reads its own query: any is accepted (a shared link must still open).
        EXPECT_EQ(r.status, 200) << method << " " << path_key << " -> " << r.status;
        continue;
      }
      EXPECT_TRUE(is_refused_as_unknown(r, "zzUndocumented"))
          << method << " " << path_key << " -> " << r.status << " " << r.body;
      if (method != "GET") {
        EXPECT_TRUE(documented.empty()) << method << " " << path_key << " documents a query";
        continue;
      }
      for (const auto& name : plausible) {
        auto probe = c.Request(method, target + "?" + name + "=1", "", headers);
        EXPECT_EQ(!is_refused_as_unknown(probe, name), documented.count(name) == 1)
            << method << " " << path_key << " ?" << name << " -> " << probe.status << " "
            << probe.body << (documented.count(name) ? " (documented)" : " (not documented)");
      }
    }
  }
  EXPECT_GE(operations, 50);
}

}  // namespace
}  // namespace rocketmart::testing

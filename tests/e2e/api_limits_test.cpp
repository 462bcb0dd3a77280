// Issue 11 point 8 (the API parts): a product image URL must be an absolute http(s) URL with a
// host, and restocks are bounded (per request, and over the product's life), end to end.
#include <gtest/gtest.h>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"

namespace rocketmart::testing {
namespace {

TEST(ApiLimits, AnImageUrlNeedsASchemeAndAHost) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  auto created = c.PostJson(
      "/products", R"({"name":"Lamp","price":100,"stock":1,"imageUrl":"https://cdn.test/l.jpg"})",
      admin);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string path = "/products/" + std::to_string(created.Json().at("id").as_int64());
  const std::string before = c.Get(path).body;
  for (const char* url : {"http://", "https://", "http:///lamp.jpg", "http://:8080/l.jpg",
                          "http://user@evil.test/l.jpg", "http://cdn.test:99999/l.jpg",
                          "https://cdn..test/l.jpg", "ftp://cdn.test/l.jpg"}) {
    const std::string field = std::string(R"("imageUrl":")") + url + "\"";
    auto made =
        c.PostJson("/products", R"({"name":"Lamp","price":100,"stock":1,)" + field + "}", admin);
    EXPECT_EQ(made.status, 400) << url << " -> " << made.body;
    EXPECT_EQ(made.ErrorCode(), "VALIDATION_FAILED") << url;
    auto changed = c.PutJson(path, "{" + field + "}", admin);
    EXPECT_EQ(changed.status, 400) << url << " -> " << changed.body;
  }
  EXPECT_EQ(c.Get(path).body, before);
  EXPECT_EQ(c.PutJson(path, R"({"imageUrl":""})", admin).status, 200) << "empty clears it";
  EXPECT_EQ(c.PutJson(path, R"({"imageUrl":"http://[::1]:8080/l.png"})", admin).status, 200);
}

TEST(ApiLimits, RestockIsBoundedPerRequestAndOverTheProductsLife) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 999'999'990, 5);
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  const std::string restock = "/payment/" + std::to_string(product) + "/restock";
  auto too_many = c.PostJson(restock, R"({"quantity":1000001})", admin);
  EXPECT_EQ(too_many.status, 400) << too_many.body;
  EXPECT_EQ(too_many.ErrorCode(), "VALIDATION_FAILED");
  auto filled = c.PostJson(restock, R"({"quantity":10})", admin);
  ASSERT_EQ(filled.status, 200) << filled.body;
  EXPECT_EQ(filled.Json().at("available").as_int64(), 1'000'000'000);
  for (int i = 0; i < 3; ++i) {
    auto over = c.PostJson(restock, R"({"quantity":1})", admin);
    EXPECT_EQ(over.status, 400) << over.body;
    EXPECT_EQ(over.ErrorCode(), "VALIDATION_FAILED");
  }
  EXPECT_EQ(c.Get("/products/" + std::to_string(product)).Json().at("stock").as_int64(),
            1'000'000'000);
}

}  // namespace
}  // namespace rocketmart::testing

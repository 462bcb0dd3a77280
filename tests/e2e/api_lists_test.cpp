// What users expect to be able to list and find (issue 11 point 12), end to end over HTTP: their
// open holds, the admin's members list and search, the admin's orders of one member, totals, and
// who did an admin action in the order history.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

std::string Hold(HttpClient& c, const std::string& token, std::int64_t product,
                 std::int64_t amount) {
  auto hold = c.PostJson(
      "/payment/holds",
      R"({"productId":)" + std::to_string(product) + R"(,"amount":)" + std::to_string(amount) + "}",
      token);
  EXPECT_EQ(hold.status, 201) << hold.body;
  return std::to_string(hold.Json().at("holdId").as_int64());
}

std::vector<std::string> HoldIds(const boost::json::value& page) {
  std::vector<std::string> ids;
  for (const auto& item : page.at("items").as_array()) {
    ids.push_back(std::to_string(item.at("holdId").as_int64()));
  }
  return ids;
}

TEST(ApiLists, AMemberListsTheirOpenHoldsAndCanFindALostOne) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 20, 10);
  HttpClient c(server.port());
  const std::string alice = server.FastToken(10), bob = server.FastToken(11);
  const std::string h1 = Hold(c, alice, product, 1);
  const std::string h2 = Hold(c, alice, product, 2);
  const std::string h3 = Hold(c, alice, product, 3);
  const std::string bobs = Hold(c, bob, product, 1);

  auto mine = c.Get("/payment/holds", alice);
  ASSERT_EQ(mine.status, 200) << mine.body;
  const auto body = mine.Json();
  EXPECT_EQ(HoldIds(body), (std::vector<std::string>{h3, h2, h1})) << "newest first, only mine";
  EXPECT_EQ(body.at("total").as_int64(), 3);
  EXPECT_TRUE(body.at("nextCursor").is_null());
  const auto& newest = body.at("items").as_array()[0];
  EXPECT_EQ(newest.at("productId").as_int64(), product);
  EXPECT_EQ(newest.at("amount").as_int64(), 3);
  EXPECT_EQ(newest.at("status").as_string(), "ACTIVE");
  EXPECT_EQ(newest.at("total").as_int64(), 3 * 129000);
  EXPECT_FALSE(newest.at("expiresAt").as_string().empty());
  EXPECT_EQ(newest.at("lines").as_array().size(), 1u);

  // Pages.
  auto first = c.Get("/payment/holds?limit=2", alice).Json();
  EXPECT_EQ(HoldIds(first), (std::vector<std::string>{h3, h2}));
  const std::string cursor(first.at("nextCursor").as_string());
  auto second = c.Get("/payment/holds?limit=2&cursor=" + cursor, alice).Json();
  EXPECT_EQ(HoldIds(second), (std::vector<std::string>{h1}));
  EXPECT_TRUE(second.at("nextCursor").is_null());
  EXPECT_EQ(second.at("total").as_int64(), 3);

  // The lost hold, found in the list, can be paid or cancelled; both leave the list.
  ASSERT_EQ(c.PostJson("/payment/holds/" + h3 + "/pay", "", alice).status, 200);
  ASSERT_EQ(c.Delete("/payment/holds/" + h2, alice).status, 204);
  EXPECT_EQ(HoldIds(c.Get("/payment/holds", alice).Json()), (std::vector<std::string>{h1}));
  EXPECT_EQ(HoldIds(c.Get("/payment/holds", bob).Json()), (std::vector<std::string>{bobs}));

  // Bad input and no token.
  for (const char* target :
       {"/payment/holds?limit=0", "/payment/holds?limit=101", "/payment/holds?limit=x",
        "/payment/holds?cursor=-1", "/payment/holds?cursor=abc", "/payment/holds?status=ACTIVE"}) {
    auto r = c.Get(target, alice);
    EXPECT_EQ(r.status, 400) << target << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), "VALIDATION_FAILED") << target;
  }
  EXPECT_EQ(c.Get("/payment/holds").status, 401);
}

}  // namespace
}  // namespace rocketmart::testing

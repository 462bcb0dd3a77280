// What users expect to be able to list and find (issue 11 point 12), end to end over HTTP: their
// open holds, the admin's members list and search, the admin's orders of one member, totals, and
// who did an admin action in the order history.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/identity.hpp"
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

TEST(ApiLists, AnAdminListsMembersAndFindsThemByEmailOrNamePrefix) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  for (const auto& [email, name] : std::vector<std::pair<std::string, std::string>>{
           {"ann@example.com", "Ann Lee"}, {"bob@shop.io", "Annabel"}, {"cy@example.com", "Cy"}}) {
    boost::json::object signup{
        {"email", email}, {"password", "correct horse battery"}, {"name", name}};
    ASSERT_EQ(c.PostJson("/member/signup", boost::json::serialize(signup)).status, 202);
  }
  auto all = c.Get("/admin/members", admin);
  ASSERT_EQ(all.status, 200) << all.body;
  const auto body = all.Json();
  EXPECT_EQ(body.at("total").as_int64(), 3);
  EXPECT_TRUE(body.at("nextCursor").is_null());
  const auto& items = body.at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  const auto& newest = items[0].as_object();
  EXPECT_EQ(newest.at("email").as_string(), "cy@example.com");
  EXPECT_EQ(newest.at("name").as_string(), "Cy");
  EXPECT_EQ(newest.at("role").as_string(), "user");
  EXPECT_FALSE(newest.at("emailVerified").as_bool());
  EXPECT_FALSE(newest.at("createdAt").as_string().empty());
  EXPECT_FALSE(newest.contains("phone")) << "no personal data in the list";
  EXPECT_FALSE(newest.contains("passwordHash"));

  auto emails = [](const HttpResponse& r) {
    std::vector<std::string> out;
    const boost::json::value body = r.Json();
    for (const auto& m : body.at("items").as_array()) {
      out.emplace_back(m.at("email").as_string());
    }
    return out;
  };
  auto ann = c.Get("/admin/members?q=ANN", admin);
  ASSERT_EQ(ann.status, 200) << ann.body;
  EXPECT_EQ(emails(ann), (std::vector<std::string>{"bob@shop.io", "ann@example.com"}));
  EXPECT_TRUE(ann.Json().at("total").is_null()) << "a search is not counted";
  EXPECT_EQ(emails(c.Get("/admin/members?q=bob%40shop", admin)),
            std::vector<std::string>{"bob@shop.io"});
  auto page = c.Get("/admin/members?limit=2", admin).Json();
  ASSERT_FALSE(page.at("nextCursor").is_null());
  auto next = c.Get(
      "/admin/members?limit=2&cursor=" + std::string(page.at("nextCursor").as_string()), admin);
  EXPECT_EQ(emails(next), std::vector<std::string>{"ann@example.com"});

  EXPECT_EQ(c.Get("/admin/members", server.FastToken(5)).status, 403);
  EXPECT_EQ(c.Get("/admin/members").status, 401);
  for (const char* target : {"/admin/members?q=", "/admin/members?limit=0",
                             "/admin/members?cursor=x", "/admin/members?email=a"}) {
    auto r = c.Get(target, admin);
    EXPECT_EQ(r.status, 400) << target << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), "VALIDATION_FAILED") << target;
  }
}

TEST(ApiLists, AdminOrdersFilterByMemberCarryTheMemberAndNameTheAdminInTheHistory) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 10, 5);
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  const std::string ann = server.FastToken(20), bob = server.FastToken(21);
  // Tests buy as synthetic identities (member id 2^53 + n).
  const std::int64_t ann_id = auth::SyntheticMemberId(20);
  const std::int64_t admin_id = auth::SyntheticMemberId(1);
  const std::string line = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  std::vector<std::int64_t> anns;
  for (const std::string* buyer : {&ann, &bob, &ann}) {
    auto paid = c.PostJson("/payment/request", line, *buyer);
    ASSERT_EQ(paid.status, 201) << paid.body;
    const std::int64_t id = paid.Json().at("orderId").as_int64();
    if (buyer == &ann) anns.insert(anns.begin(), id);
    ASSERT_TRUE(
        WaitUntil([&] { return c.Get("/order/" + std::to_string(id), *buyer).status == 200; }));
  }

  auto mine = c.Get("/admin/orders?memberId=" + std::to_string(ann_id), admin);
  ASSERT_EQ(mine.status, 200) << mine.body;
  const auto body = mine.Json();
  std::vector<std::int64_t> ids;
  for (const auto& o : body.at("items").as_array()) {
    ids.push_back(o.at("id").as_int64());
    EXPECT_EQ(o.at("memberId").as_int64(), ann_id);
  }
  EXPECT_EQ(ids, anns) << "only ann's orders, newest first";
  EXPECT_EQ(body.at("total").as_int64(), 2);
  auto all = c.Get("/admin/orders", admin).Json();
  EXPECT_EQ(all.at("total").as_int64(), 3);
  for (const auto& o : all.at("items").as_array()) EXPECT_TRUE(o.as_object().contains("memberId"));
  EXPECT_EQ(c.Get("/admin/orders?memberId=999", admin).Json().at("items").as_array().size(), 0u);
  EXPECT_EQ(c.Get("/admin/orders?memberId=0", admin).ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/order", ann).Json().at("total").as_int64(), 2);

  // An admin holds and advances an order: the history names them, for admins only.
  const std::string order = std::to_string(anns[0]);
  auto held =
      c.PostJson("/admin/orders/" + order + "/hold", R"({"reason":"address check"})", admin);
  ASSERT_EQ(held.status, 200) << held.body;
  EXPECT_EQ(held.Json().at("history").as_array().back().at("actorId").as_int64(), admin_id);
  EXPECT_EQ(held.Json().at("memberId").as_int64(), ann_id);
  auto advanced =
      c.PostJson("/admin/orders/" + order + "/advance", R"({"reason":"courier"})", admin);
  ASSERT_EQ(advanced.status, 200) << advanced.body;
  const auto history = c.Get("/admin/orders/" + order, admin).Json().at("history").as_array();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_TRUE(history[0].at("actorId").is_null()) << "the payment was nobody's action";
  EXPECT_EQ(history[1].at("kind").as_string(), "hold");
  EXPECT_EQ(history[1].at("actorId").as_int64(), admin_id);
  EXPECT_EQ(history[2].at("status").as_string(), "SHIPPING");
  EXPECT_EQ(history[2].at("actorId").as_int64(), admin_id);
  const auto seen_by_member = c.Get("/order/" + order, ann).Json().at("history").as_array();
  ASSERT_EQ(seen_by_member.size(), 3u);
  for (const auto& h : seen_by_member) {
    EXPECT_FALSE(h.as_object().contains("actorId")) << "a member does not see operator ids";
  }
}

}  // namespace
}  // namespace rocketmart::testing

// Shopping end to end (issue 5): likes, wishlist, cart and catalog browsing through the real binary
// over HTTP, including threads racing on the same member's likes and wishlist.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>
#include <thread>

#include "core/time_format.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"

namespace rocketmart::testing {
namespace {

constexpr int kMembers = 6;

class Shopping : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    admin_ = server_->Token(1, true);
    for (int m = 0; m < kMembers; ++m) members_.push_back(server_->Token(100 + m));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    members_.clear();
  }
  HttpClient Client() { return HttpClient(server_->port()); }

  std::int64_t CreateProduct(HttpClient& c, const std::string& name, std::int64_t price = 1000) {
    auto r = c.PostJson(
        "/products",
        R"({"name":")" + name + R"(","price":)" + std::to_string(price) + R"(,"stock":10})",
        admin_);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().at("id").as_int64();
  }

  static ServerProcess* server_;
  static std::string admin_;
  static std::vector<std::string> members_;
};

ServerProcess* Shopping::server_ = nullptr;
std::string Shopping::admin_;
std::vector<std::string> Shopping::members_;

TEST_F(Shopping, LikesAreShownInDetailAndListWithLikedByMeForTheCaller) {
  auto c = Client();
  const auto id = CreateProduct(c, "likeable");
  const std::string like = "/products/" + std::to_string(id) + "/like";
  auto r = c.PutJson(like, "", members_[0]);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("likes").as_int64(), 1);
  EXPECT_EQ(r.Json().at("likedByMe").as_bool(), true);
  EXPECT_EQ(c.PutJson(like, "", members_[0]).Json().at("likes").as_int64(), 1);  // idempotent
  // Another member's like counts once every instance has heard of the first (a cluster's other
  // catalog instance hears of it by its event).
  const std::string path = "/products/" + std::to_string(id);
  EXPECT_TRUE(
      ConvergesOnEveryInstance([&] { return c.Get(path).Json().at("likes").as_int64() == 1; }));
  EXPECT_EQ(c.PutJson(like, "", members_[1]).Json().at("likes").as_int64(), 2);

  EXPECT_TRUE(
      ConvergesOnEveryInstance([&] { return c.Get(path).Json().at("likes").as_int64() == 2; }));
  auto anonymous = c.Get(path).Json();
  EXPECT_EQ(anonymous.at("likes").as_int64(), 2);
  EXPECT_FALSE(anonymous.as_object().contains("likedByMe"));
  EXPECT_EQ(anonymous.at("saleState").as_string(), "none");
  EXPECT_TRUE(
      c.Get("/products/" + std::to_string(id), members_[0]).Json().at("likedByMe").as_bool());
  EXPECT_FALSE(
      c.Get("/products/" + std::to_string(id), members_[2]).Json().at("likedByMe").as_bool());
  auto list = c.Get("/products?limit=100&q=likeable", members_[1]).Json();
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  EXPECT_EQ(list.at("items").as_array()[0].at("likes").as_int64(), 2);
  EXPECT_TRUE(list.at("items").as_array()[0].at("likedByMe").as_bool());

  // The original's toggle keeps working.
  auto toggled = c.PostJson("/products/like/" + std::to_string(id), "", members_[0]).Json();
  EXPECT_EQ(toggled.at("likes").as_int64(), 1);
  EXPECT_FALSE(toggled.at("likedByMe").as_bool());
  auto removed = c.Delete(like, members_[1]).Json();
  EXPECT_EQ(removed.at("likes").as_int64(), 0);
  EXPECT_EQ(c.Delete(like, members_[1]).Json().at("likes").as_int64(), 0);  // idempotent

  EXPECT_EQ(c.PutJson(like, "").status, 401);
  EXPECT_EQ(c.PutJson("/products/99999999/like", "", members_[0]).ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.PutJson("/products/abc/like", "", members_[0]).status, 404);
}

// GET /products/likes: the route members' "my page" reads over HTTP when the services run apart.
TEST_F(Shopping, AMembersOwnLikesAreListedMostRecentFirstRetiredProductsIncluded) {
  auto c = Client();
  const std::string alice = server_->Token(201);
  const std::string bob = server_->Token(202);
  std::vector<std::int64_t> liked;
  for (int i = 0; i < 3; ++i) {
    liked.push_back(CreateProduct(c, "mine" + std::to_string(i)));
    ASSERT_EQ(c.PutJson("/products/" + std::to_string(liked.back()) + "/like", "", alice).status,
              200);
  }
  const auto other = CreateProduct(c, "theirs");
  ASSERT_EQ(c.PutJson("/products/" + std::to_string(other) + "/like", "", bob).status, 200);
  ASSERT_EQ(c.Delete("/products/" + std::to_string(liked[0]), admin_).status, 204);

  auto r = c.Get("/products/likes", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const boost::json::value body = r.Json();
  const auto& items = body.at("items").as_array();
  std::vector<std::int64_t> ids;
  // Compared as instants, not as text: "...:00Z" is earlier than "...:00.001Z" (milliseconds
  // are written only when not zero).
  TimePoint previous = TimePoint::max();
  for (const auto& item : items) {
    ids.push_back(item.at("productId").as_int64());
    const std::optional<TimePoint> at = ParseRfc3339(item.at("likedAt").as_string());
    ASSERT_TRUE(at.has_value()) << item.at("likedAt").as_string();
    EXPECT_LE(*at, previous) << "most recent first";
    previous = *at;
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, liked) << "the member's own likes only, the retired product's included";
  EXPECT_EQ(c.Get("/products/likes?limit=2", alice).Json().at("items").as_array().size(), 2u);
  const boost::json::value bob_body = c.Get("/products/likes", bob).Json();
  const auto& bobs = bob_body.at("items").as_array();
  ASSERT_EQ(bobs.size(), 1u);
  EXPECT_EQ(bobs[0].at("productId").as_int64(), other);
  EXPECT_TRUE(c.Get("/products/likes", server_->Token(203)).Json().at("items").as_array().empty());

  EXPECT_EQ(c.Get("/products/likes").status, 401);
  for (const char* bad : {"limit=0", "limit=101", "limit=x", "member=202", "limit=1&limit=2"}) {
    auto refused = c.Get(std::string("/products/likes?") + bad, alice);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(refused.ErrorCode(), "VALIDATION_FAILED") << bad;
  }
}

TEST_F(Shopping, ConcurrentLikesAndUnlikesOverHttpKeepCountsExactAcrossRestart) {
  std::vector<std::int64_t> products;
  {
    auto c = Client();
    for (int i = 0; i < 3; ++i) products.push_back(CreateProduct(c, "race" + std::to_string(i)));
  }
  const char* kOps[] = {"PUT", "DELETE", "POST"};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(server_->port());
      std::mt19937 rng(static_cast<unsigned>(t + 17));
      for (int i = 0; i < 120; ++i) {
        const auto& token = members_[rng() % kMembers];
        const auto product = std::to_string(products[rng() % products.size()]);
        const std::string op = kOps[rng() % 3];
        const std::string target =
            op == "POST" ? "/products/like/" + product : "/products/" + product + "/like";
        auto r = c.Request(op, target, "", {{"Authorization", "Bearer " + token}});
        if (r.status != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  auto snapshot = [&] {
    HttpClient c(server_->port());
    std::vector<std::int64_t> counts;
    for (std::int64_t p : products) {
      const std::string path = "/products/" + std::to_string(p);
      // Each member reads their own likes where they made them (exact at once, on a cluster too).
      std::int64_t liked = 0;
      for (const auto& token : members_)
        liked += c.Get(path, token).Json().at("likedByMe").as_bool();
      // The count equals the members who like it: at once embedded, on every instance in the end.
      std::int64_t likes = -1;
      EXPECT_TRUE(ConvergesOnEveryInstance([&] {
        likes = c.Get(path).Json().at("likes").as_int64();
        return likes == liked;
      })) << "product "
          << p << ": " << likes << " likes shown, " << liked << " members like it";
      counts.push_back(liked);
    }
    return counts;
  };
  const auto before = snapshot();
  EXPECT_EQ(server_->Terminate(), 0);
  server_->Restart();
  EXPECT_EQ(snapshot(), before);
}

struct BadCase {
  std::string method, target, body, content_type;
  int status;
  std::string code;
};

TEST_F(Shopping, CartEditsWithBadInputAnswer4xxAndChangeNothing) {
  auto c = Client();
  const auto a = CreateProduct(c, "cart-a", 1500);
  const auto b = CreateProduct(c, "cart-b", 2500);
  const std::string& me = members_[3];
  ASSERT_EQ(c.PutJson("/cart/items/" + std::to_string(a), R"({"quantity":2})", me).status, 200);
  auto cart = c.PutJson("/cart/items/" + std::to_string(b), R"({"quantity":1})", me);
  ASSERT_EQ(cart.status, 200) << cart.body;
  auto body = cart.Json();
  EXPECT_EQ(body.at("total").as_int64(), 2 * 1500 + 2500);
  const auto& line = body.at("items").as_array()[0];
  EXPECT_EQ(line.at("productId").as_int64(), a);
  EXPECT_EQ(line.at("name").as_string(), "cart-a");
  EXPECT_EQ(line.at("lineTotal").as_int64(), 3000);
  EXPECT_EQ(line.at("stock").as_int64(), 10);
  EXPECT_EQ(line.at("saleState").as_string(), "none");

  const std::string pa = "/cart/items/" + std::to_string(a);
  const std::vector<BadCase> cases = {
      {"PUT", "/cart/items/99999999", R"({"quantity":1})", "application/json", 404, "NOT_FOUND"},
      {"PUT", "/cart/items/abc", R"({"quantity":1})", "application/json", 404, "NOT_FOUND"},
      {"PUT", pa, R"({"quantity":0})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":-3})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":100})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":1.5})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":"2"})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":1,"price":1})", "application/json", 400, "VALIDATION_FAILED"},
      {"PUT", pa, R"({"quantity":)", "application/json", 400, "MALFORMED_JSON"},
      {"PUT", pa, "", "application/json", 400, "MALFORMED_JSON"},
      {"PUT", pa, R"({"quantity":1})", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"},
      {"DELETE", "/cart/items/99999999", "", "", 404, "NOT_FOUND"},
  };
  const std::string before = c.Get("/cart", me).body;
  for (const auto& bc : cases) {
    std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + me}};
    if (!bc.content_type.empty()) headers["Content-Type"] = bc.content_type;
    auto r = c.Request(bc.method, bc.target, bc.body, headers);
    EXPECT_EQ(r.status, bc.status)
        << bc.method << " " << bc.target << " " << bc.body << " -> " << r.body;
    EXPECT_EQ(r.ErrorCode(), bc.code) << bc.method << " " << bc.target << " " << bc.body;
  }
  EXPECT_EQ(c.PutJson(pa, R"({"quantity":1})").status, 401);
  EXPECT_EQ(c.Get("/cart", me).body, before);

  // Another member sees none of it and cannot remove it.
  EXPECT_EQ(c.Get("/cart", members_[4]).Json().at("items").as_array().size(), 0u);
  EXPECT_EQ(c.Delete(pa, members_[4]).ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.Get("/cart", me).body, before);

  // Too many lines: the 51st is refused and nothing changes.
  for (int i = 0; i < 48; ++i) {
    const auto id = CreateProduct(c, "filler" + std::to_string(i));
    ASSERT_EQ(c.PutJson("/cart/items/" + std::to_string(id), R"({"quantity":1})", me).status, 200);
  }
  const std::string full = c.Get("/cart", me).body;
  const auto extra = CreateProduct(c, "one-too-many");
  auto refused = c.PutJson("/cart/items/" + std::to_string(extra), R"({"quantity":1})", me);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.ErrorCode(), "CONFLICT");
  EXPECT_EQ(c.Get("/cart", me).body, full);

  // The current price is shown; removing a line and clearing work.
  ASSERT_EQ(c.PutJson("/products/" + std::to_string(a), R"({"price":1700})", admin_).status, 200);
  EXPECT_TRUE(ConvergesOnEveryInstance([&] {
    return c.Get("/cart", me).Json().at("items").as_array()[0].at("price").as_int64() == 1700;
  }));
  EXPECT_EQ(c.Delete(pa, me).status, 200);
  EXPECT_EQ(c.Get("/cart", me).Json().at("items").as_array().size(), 49u);
  EXPECT_EQ(c.Delete("/cart", me).status, 204);
  EXPECT_EQ(c.Get("/cart", me).Json().at("total").as_int64(), 0);
}

TEST_F(Shopping, WishlistDuplicatesAreImpossibleUnderConcurrency) {
  std::int64_t id = 0;
  {
    auto c = Client();
    id = CreateProduct(c, "wish", 3000);
  }
  const std::string& me = members_[5];
  const std::string body = R"({"productId":)" + std::to_string(id) + R"(,"quantity":1})";
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      HttpClient c(server_->port());
      for (int i = 0; i < 3; ++i) {
        if (c.PostJson("/products/wishlist", body, me).status != 200) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto c = Client();
  auto list = c.Get("/products/wishlist", me).Json();
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  const auto& item = list.at("items").as_array()[0];
  EXPECT_EQ(item.at("quantity").as_int64(), 24);
  EXPECT_EQ(item.at("price").as_int64(), 3000);  // unit price, current
  EXPECT_EQ(item.at("name").as_string(), "wish");
  EXPECT_EQ(item.at("stock").as_int64(), 10);

  // The original's body shape (productName, price) is accepted; its price is ignored.
  auto legacy = c.PostJson(
      "/products/wishlist",
      R"({"productId":)" + std::to_string(id) + R"(,"productName":"x","price":1,"quantity":1})",
      me);
  EXPECT_EQ(legacy.status, 200) << legacy.body;
  EXPECT_EQ(legacy.Json().at("price").as_int64(), 3000);
  const std::string before = c.Get("/products/wishlist", me).body;
  EXPECT_EQ(c.PostJson("/products/wishlist",
                       R"({"productId":)" + std::to_string(id) + R"(,"quantity":80})", me)
                .ErrorCode(),
            "VALIDATION_FAILED");  // 25 + 80 > 99
  EXPECT_EQ(c.PostJson("/products/wishlist", R"({"productId":99999999})", me).ErrorCode(),
            "NOT_FOUND");
  EXPECT_EQ(c.PostJson("/products/wishlist", R"({"productId":1,"quantity":0})", me).ErrorCode(),
            "VALIDATION_FAILED");
  EXPECT_EQ(c.PostJson("/products/wishlist", R"({"quantity":1})", me).ErrorCode(),
            "VALIDATION_FAILED");
  EXPECT_EQ(c.PostJson("/products/wishlist", "{", me).ErrorCode(), "MALFORMED_JSON");
  EXPECT_EQ(c.Get("/products/wishlist", me).body, before);
  EXPECT_EQ(c.Get("/products/wishlist", members_[0]).Json().at("items").as_array().size(), 0u);
  EXPECT_EQ(c.Delete("/products/wishlist/" + std::to_string(id), members_[0]).status, 404);
  EXPECT_EQ(c.Delete("/products/wishlist/" + std::to_string(id), me).status, 204);
  EXPECT_EQ(c.Get("/products/wishlist", me).Json().at("items").as_array().size(), 0u);
  EXPECT_EQ(c.Get("/products/wishlist").status, 401);
}

TEST_F(Shopping, BrowseBySaleStateAndSortByLikes) {
  auto c = Client();
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(CreateProduct(c, "browse" + std::to_string(i)));
  // browse3 gets 3 likes, browse1 gets 2, browse2 gets 1.
  for (int m = 0; m < 3; ++m)
    c.PutJson("/products/" + std::to_string(ids[3]) + "/like", "", members_[m]);
  for (int m = 0; m < 2; ++m)
    c.PutJson("/products/" + std::to_string(ids[1]) + "/like", "", members_[m]);
  c.PutJson("/products/" + std::to_string(ids[2]) + "/like", "", members_[0]);
  const std::vector<std::int64_t> expected = {ids[3], ids[1], ids[2], ids[0]};
  std::vector<std::int64_t> order;
  EXPECT_TRUE(ConvergesOnEveryInstance([&] {
    order.clear();
    std::string cursor;
    for (int page = 0; page < 5; ++page) {
      auto r = c.Get("/products?q=browse&sort=likes&limit=1" +
                     (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return false;
      auto b = r.Json();
      for (const auto& item : b.at("items").as_array()) order.push_back(item.at("id").as_int64());
      if (b.at("nextCursor").is_null()) break;
      cursor = std::string(b.at("nextCursor").as_string());
    }
    return order == expected;
  }));
  EXPECT_EQ(order, expected);
  // No checkout bound: every product is "none".
  EXPECT_EQ(c.Get("/products?q=browse&saleState=none").Json().at("items").as_array().size(), 4u);
  EXPECT_EQ(c.Get("/products?q=browse&saleState=live").Json().at("items").as_array().size(), 0u);
  EXPECT_EQ(c.Get("/products?saleState=LIVE").ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/products?sort=-likes").ErrorCode(), "VALIDATION_FAILED");
}

}  // namespace
}  // namespace rocketmart::testing

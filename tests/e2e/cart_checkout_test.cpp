// Checkout from the cart, end to end: all lines held at once or none, one payment, one order with
// several lines, and the bought lines leave the cart when the order exists.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "support/db_probe.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

std::int64_t NewProductOnSale(ServerProcess& server, std::int64_t stock, std::int64_t limit,
                              bool with_sale = true) {
  return CreateProductOnSale(server, stock, limit, with_sale, /*price=*/1000);
}

void PutInCart(HttpClient& c, const std::string& token, std::int64_t product, std::int64_t qty) {
  auto r = c.PutJson("/cart/items/" + std::to_string(product),
                     R"({"quantity":)" + std::to_string(qty) + "}", token);
  ASSERT_EQ(r.status, 200) << r.body;
}

std::filesystem::path Checkout(const ServerProcess& s) {
  return s.data_dir() / "checkout.db";
}

TEST(CartCheckout, BuysEveryLineInOneOrderAndEmptiesTheCart) {
  ServerProcess server;
  const std::int64_t a = NewProductOnSale(server, 10, 5), b = NewProductOnSale(server, 10, 5);
  HttpClient c(server.port());
  const std::string buyer = server.FastToken(7);
  PutInCart(c, buyer, a, 2);
  PutInCart(c, buyer, b, 3);
  auto paid = c.PostJson("/cart/checkout", "", buyer, {{"Idempotency-Key", "cart-1"}});
  ASSERT_EQ(paid.status, 201) << paid.body;
  EXPECT_EQ(paid.Json().at("total").as_int64(), 5000);
  const std::int64_t order_id = paid.Json().at("orderId").as_int64();
  ASSERT_TRUE(
      WaitUntil([&] { return c.Get("/order/" + std::to_string(order_id), buyer).status == 200; }));
  const auto order = c.Get("/order/" + std::to_string(order_id), buyer).Json();
  EXPECT_EQ(order.at("lines").as_array().size(), 2u);
  EXPECT_TRUE(WaitUntil([&] {
    return c.Get("/cart", buyer).Json().at("items").as_array().empty();
  })) << "the bought lines leave the cart once the order exists";
  EXPECT_EQ(c.Get("/products/" + std::to_string(a)).Json().at("stock").as_int64(), 8);
  EXPECT_EQ(c.Get("/products/" + std::to_string(b)).Json().at("stock").as_int64(), 7);
  // A retry of the same checkout replays the answer, although the cart is now empty.
  auto again = c.PostJson("/cart/checkout", "", buyer, {{"Idempotency-Key", "cart-1"}});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, paid.body);
  EXPECT_EQ(again.Header("Idempotent-Replayed"), "true");
  EXPECT_EQ(QueryInt(Checkout(server), "SELECT count(*) FROM payments"), 1);
  // An empty cart, a body, no token.
  EXPECT_EQ(c.PostJson("/cart/checkout", "", buyer).ErrorCode(), "CONFLICT");
  EXPECT_EQ(c.PostJson("/cart/checkout", R"({"items":[]})", buyer).ErrorCode(),
            "VALIDATION_FAILED");
  EXPECT_EQ(c.PostJson("/cart/checkout", "").status, 401);
}

TEST(CartCheckout, RacingMultiLineCheckoutsNeverLeavePartialHoldsOrOversell) {
  ServerProcess server;
  const std::int64_t a = NewProductOnSale(server, 5, 1), b = NewProductOnSale(server, 5, 1);
  constexpr int kMembers = 40;
  std::vector<std::string> tokens;
  for (int m = 0; m < kMembers; ++m) tokens.push_back(server.FastToken(100 + m));
  {
    HttpClient c(server.port());
    for (const auto& t : tokens) {
      PutInCart(c, t, a, 1);
      PutInCart(c, t, b, 1);
    }
  }
  std::atomic<int> paid{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int m = 0; m < kMembers; ++m) {
    threads.emplace_back([&, m] {
      HttpClient c(server.port());
      auto r = c.PostJson("/cart/checkout", "", tokens[static_cast<std::size_t>(m)]);
      if (r.status == 201) {
        ++paid;
      } else if (r.ErrorCode() == "SOLD_OUT" || r.ErrorCode() == "INSUFFICIENT_STOCK") {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(paid.load(), 5);
  EXPECT_EQ(refused.load(), kMembers - 5);
  EXPECT_EQ(other.load(), 0);
  for (std::int64_t product : {a, b}) {
    const std::string where = " FROM inventory WHERE product_id = " + std::to_string(product);
    EXPECT_EQ(QueryInt(Checkout(server), "SELECT available" + where), 0);
    EXPECT_EQ(QueryInt(Checkout(server), "SELECT sold" + where), 5);
    EXPECT_EQ(QueryInt(Checkout(server), "SELECT held" + where), 0) << "a partial hold was left";
  }
  EXPECT_EQ(
      QueryInt(Checkout(server), "SELECT count(*) FROM holds WHERE status IN ('ACTIVE','PAYING')"),
      0);
  EXPECT_EQ(QueryInt(Checkout(server), "SELECT count(*) FROM holds"), 5)
      << "a refused checkout must not even create a hold";
}

TEST(CartCheckout, EveryLineMustBeOnSale) {
  ServerProcess server;
  const std::int64_t a = NewProductOnSale(server, 5, 5);
  const std::int64_t no_sale = NewProductOnSale(server, 5, 5, /*with_sale=*/false);
  HttpClient c(server.port());
  const std::string buyer = server.FastToken(9);
  PutInCart(c, buyer, a, 1);
  PutInCart(c, buyer, no_sale, 1);
  auto r = c.PostJson("/cart/checkout", "", buyer);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.ErrorCode(), "NO_SALE");
  EXPECT_EQ(c.Get("/products/" + std::to_string(a)).Json().at("stock").as_int64(), 5);
  EXPECT_EQ(c.Get("/cart", buyer).Json().at("items").as_array().size(), 2u);
  const std::string unverified = server.FastToken(10, false, /*verified=*/false);
  PutInCart(c, unverified, a, 1);
  EXPECT_EQ(c.PostJson("/cart/checkout", "", unverified).ErrorCode(), "EMAIL_NOT_VERIFIED");
}

}  // namespace
}  // namespace rocketmart::testing

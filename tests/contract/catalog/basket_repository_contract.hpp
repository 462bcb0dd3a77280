// The BasketRepository contract (ports/shopping_repository.hpp), checked through the port only.
//
// Promise: one line per member and product. A wishlist add adds to the line (a sum over 99 is
// refused, a 101st product too); a cart line is set (a 51st line is refused); a refused write
// changes nothing. Lines read back in the order added, per member, as the last answered write
// left them, on any instance. Unknown or retired products get no line, and retiring a product
// removes its lines, so a line never points at a retired product, even one retired concurrently.
// RemovePurchased removes an order's lines unless changed after its payment, so a redelivered order
// removes nothing more. The cart checkout claim: with a line in the cart, exactly one of any number
// of parallel claims (from any instance) starts it and the others join it under its key;
// EndCartCheckout closes it only for its own key, removes the paid lines and records the order,
// and repeating it (every joiner does) is harmless; an edit of the cart forgets the order.
#pragma once

#include <atomic>
#include <mutex>
#include <set>

#include "contract/catalog/catalog_store.hpp"

namespace rocketmart::catalog::contract {

class BasketRepositoryContract : public CatalogContractTest {
 protected:
  std::vector<StoredLine> Lines(CatalogStoreInstance& instance, Basket basket,
                                std::int64_t member) {
    auto lines = Await(instance.baskets().Lines(basket, member));
    EXPECT_TRUE(lines.ok());
    return lines.ok() ? *lines : std::vector<StoredLine>{};
  }
  // (product, quantity) of each line, in order.
  std::vector<std::pair<std::int64_t, std::int64_t>> Shape(CatalogStoreInstance& instance,
                                                           Basket basket, std::int64_t member) {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const StoredLine& line : Lines(instance, basket, member)) {
      out.emplace_back(line.product_id, line.quantity);
    }
    return out;
  }
  Result<StoredLine> SetCart(CatalogStoreInstance& instance, std::int64_t member,
                             std::int64_t product, std::int64_t quantity, std::int64_t second = 1) {
    return Await(instance.baskets().SetCartLine(member, product, quantity, At(second)));
  }
  Result<StoredLine> Wish(CatalogStoreInstance& instance, std::int64_t member, std::int64_t product,
                          std::int64_t quantity, std::int64_t second = 1) {
    return Await(instance.baskets().AddToWishlist(member, product, quantity, At(second)));
  }
  Result<CartClaim> Claim(CatalogStoreInstance& instance, std::int64_t member, std::string key) {
    return Await(instance.baskets().ClaimCartCheckout(member, std::move(key), At(5)));
  }
  Result<std::optional<std::int64_t>> End(CatalogStoreInstance& instance, std::int64_t member,
                                          std::string key,
                                          std::optional<CartCheckoutPaid> paid = std::nullopt) {
    return Await(instance.baskets().EndCartCheckout(member, std::move(key), std::move(paid)));
  }
  static CartCheckoutPaid Paid(std::int64_t order, std::int64_t member,
                               std::vector<std::int64_t> products, std::int64_t paid_second) {
    CartCheckoutPaid paid;
    paid.order_id = order;
    paid.lines.member_id = member;
    paid.lines.product_ids = std::move(products);
    paid.lines.paid_at = At(paid_second);
    return paid;
  }
  std::int64_t RemovePurchased(CatalogStoreInstance& instance, std::vector<PurchasedLines> orders) {
    auto removed = Await(instance.baskets().RemovePurchased(std::move(orders)));
    EXPECT_TRUE(removed.ok());
    return removed.ok() ? *removed : -1;
  }
  std::int64_t Remove(CatalogStoreInstance& instance, Basket basket, std::int64_t member,
                      std::vector<std::int64_t> products, bool all = false) {
    auto removed = Await(instance.baskets().Remove(basket, member, std::move(products), all));
    EXPECT_TRUE(removed.ok());
    return removed.ok() ? *removed : -1;
  }
};

using LineShape = std::vector<std::pair<std::int64_t, std::int64_t>>;

TEST_P(BasketRepositoryContract, AWishlistAddAddsToTheLineAndASumOver99IsRefused) {
  const std::int64_t p = NewProduct();
  auto first = Wish(*store_, 3, p, 40, 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->product_id, p);
  EXPECT_EQ(first->quantity, 40);
  EXPECT_EQ(first->added_at, At(1));
  auto more = Wish(*other_, 3, p, 59, 2);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more->quantity, 99);
  EXPECT_EQ(more->added_at, At(1)) << "a line keeps the time it was first added";
  auto over = Wish(*store_, 3, p, 1, 3);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, Errc::kValidationFailed);
  EXPECT_EQ(Shape(*other_, Basket::kWishlist, 3), (LineShape{{p, 99}}));
  EXPECT_TRUE(Lines(*store_, Basket::kCart, 3).empty()) << "the wishlist is not the cart";
}

TEST_P(BasketRepositoryContract, AWishlistHoldsAtMost100Products) {
  std::vector<std::int64_t> products;
  for (int i = 0; i <= kWishlistMaxItems; ++i) products.push_back(NewProduct());
  for (int i = 0; i < kWishlistMaxItems; ++i) {
    ASSERT_TRUE(Wish(Instance(i), 3, products[static_cast<std::size_t>(i)], 1).ok());
  }
  auto refused = Wish(*store_, 3, products.back(), 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  EXPECT_EQ(Lines(*other_, Basket::kWishlist, 3).size(),
            static_cast<std::size_t>(kWishlistMaxItems));
  EXPECT_TRUE(Wish(*store_, 3, products[0], 1).ok()) << "a listed product can still be added to";
  EXPECT_TRUE(Wish(*store_, 4, products.back(), 1).ok()) << "the bound is per member";
}

TEST_P(BasketRepositoryContract, ACartLineIsSetAndACartHoldsAtMost50Lines) {
  std::vector<std::int64_t> products;
  for (int i = 0; i <= kCartMaxLines; ++i) products.push_back(NewProduct());
  ASSERT_TRUE(SetCart(*store_, 5, products[0], 2).ok());
  auto set = SetCart(*other_, 5, products[0], 7, 2);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->quantity, 7) << "set, not added";
  EXPECT_EQ(set->added_at, At(1));
  for (int i = 1; i < kCartMaxLines; ++i) {
    ASSERT_TRUE(SetCart(Instance(i), 5, products[static_cast<std::size_t>(i)], 1).ok());
  }
  auto refused = SetCart(*store_, 5, products.back(), 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kConflict);
  const auto lines = Lines(*other_, Basket::kCart, 5);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kCartMaxLines));
  EXPECT_EQ(lines[0].quantity, 7);
  EXPECT_TRUE(SetCart(*store_, 5, products[1], 4).ok()) << "existing lines stay editable";
}

TEST_P(BasketRepositoryContract, LinesReadBackPerMemberInTheOrderAdded) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b"), c = NewProduct("c");
  ASSERT_TRUE(SetCart(*store_, 5, c, 1, 1).ok());
  ASSERT_TRUE(SetCart(*other_, 5, a, 2, 2).ok());
  ASSERT_TRUE(SetCart(*store_, 5, b, 3, 3).ok());
  ASSERT_TRUE(SetCart(*store_, 6, a, 9, 4).ok());
  ASSERT_TRUE(SetCart(*store_, 5, c, 4, 5).ok());  // an edit keeps the line's place
  EXPECT_EQ(Shape(*other_, Basket::kCart, 5), (LineShape{{c, 4}, {a, 2}, {b, 3}}));
  EXPECT_EQ(Shape(*store_, Basket::kCart, 6), (LineShape{{a, 9}}));
  EXPECT_TRUE(Lines(*store_, Basket::kCart, 7).empty());
}

TEST_P(BasketRepositoryContract, RemoveTakesTheGivenLinesOrAllAndCountsThem) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b"), c = NewProduct("c");
  for (const std::int64_t p : {a, b, c}) {
    ASSERT_TRUE(SetCart(*store_, 5, p, 1).ok());
    ASSERT_TRUE(Wish(*store_, 5, p, 1).ok());
  }
  EXPECT_EQ(Remove(*other_, Basket::kCart, 5, {a, c, 999999}), 2);
  EXPECT_EQ(Remove(*store_, Basket::kCart, 5, {a}), 0) << "already gone";
  EXPECT_EQ(Remove(*store_, Basket::kCart, 6, {b}), 0) << "another member's lines stay";
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{b, 1}}));
  EXPECT_EQ(Remove(*store_, Basket::kWishlist, 5, {}, true), 3);
  EXPECT_TRUE(Lines(*other_, Basket::kWishlist, 5).empty());
  EXPECT_EQ(Shape(*other_, Basket::kCart, 5), (LineShape{{b, 1}}))
      << "the cart is not the wishlist";
}

TEST_P(BasketRepositoryContract, UnknownAndRetiredProductsGetNoLineAndRetiringRemovesLines) {
  const std::int64_t kept = NewProduct("kept"), gone = NewProduct("gone");
  ASSERT_TRUE(SetCart(*store_, 5, kept, 1).ok());
  ASSERT_TRUE(SetCart(*store_, 5, gone, 1).ok());
  ASSERT_TRUE(Wish(*store_, 6, gone, 1).ok());
  RetireProduct(gone);
  EXPECT_EQ(Shape(*other_, Basket::kCart, 5), (LineShape{{kept, 1}}));
  EXPECT_TRUE(Lines(*other_, Basket::kWishlist, 6).empty());
  for (const std::int64_t p : {gone, kept + 1000}) {
    auto cart = SetCart(*other_, 5, p, 1);
    ASSERT_FALSE(cart.ok());
    EXPECT_EQ(cart.error().code, Errc::kNotFound);
    auto wish = Wish(*other_, 5, p, 1);
    ASSERT_FALSE(wish.ok());
    EXPECT_EQ(wish.error().code, Errc::kNotFound);
  }
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{kept, 1}}));
}

// Members add each of 6 products to carts and wishlists from two instances while each product is
// retired, all released together: whatever the interleaving, no line is left on a retired product.
TEST_P(BasketRepositoryContract, ALineNeverPointsAtAProductRetiredConcurrently) {
  constexpr int kProducts = 6;
  constexpr int kMembers = 4;
  std::vector<std::int64_t> products;
  for (int i = 0; i < kProducts; ++i) products.push_back(NewProduct());
  std::atomic<int> added{0}, refused{0}, other{0};
  RunTogether(kProducts * (kMembers + 1), [&](int caller) {
    const std::int64_t product = products[static_cast<std::size_t>(caller % kProducts)];
    const int role = caller / kProducts;  // 0: retires, 1..kMembers: a member adding
    CatalogStoreInstance& instance = Instance(caller);
    if (role == 0) {
      if (!Await(instance.products().Retire(product, At(2))).ok()) ++other;
      return;
    }
    for (int i = 0; i < 5; ++i) {
      auto cart = Await(instance.baskets().SetCartLine(role, product, 1 + i, At(2)));
      auto wish = Await(instance.baskets().AddToWishlist(role, product, 1, At(2)));
      for (const auto* r : {&cart, &wish}) {
        if (r->ok()) {
          ++added;
        } else if (r->error().code == Errc::kNotFound) {
          ++refused;
        } else {
          ++other;
        }
      }
    }
  });
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(refused.load(), 0) << "no add came after a retire: the race was not run";
  for (int member = 1; member <= kMembers; ++member) {
    EXPECT_TRUE(Lines(*store_, Basket::kCart, member).empty()) << "member " << member;
    EXPECT_TRUE(Lines(*other_, Basket::kWishlist, member).empty()) << "member " << member;
  }
}

TEST_P(BasketRepositoryContract,
       RemovePurchasedKeepsLinesChangedAfterThePaymentAndRepeatsHarmlessly) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b"), c = NewProduct("c");
  for (const std::int64_t p : {a, b, c}) ASSERT_TRUE(SetCart(*store_, 5, p, 1, 1).ok());
  ASSERT_TRUE(SetCart(*store_, 6, a, 1, 1).ok());
  ASSERT_TRUE(SetCart(*store_, 5, b, 3, 20).ok());  // edited after the payment at 10
  PurchasedLines order{5, {a, b}, At(10)};
  PurchasedLines another{6, {a}, At(10)};
  EXPECT_EQ(RemovePurchased(*other_, {order, another}), 2);
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{b, 3}, {c, 1}}));
  EXPECT_TRUE(Lines(*store_, Basket::kCart, 6).empty());
  // The same order delivered again, even after a is put back: nothing more goes.
  ASSERT_TRUE(SetCart(*store_, 5, a, 2, 30).ok());
  EXPECT_EQ(RemovePurchased(*store_, {order}), 0);
  EXPECT_EQ(Shape(*other_, Basket::kCart, 5), (LineShape{{b, 3}, {c, 1}, {a, 2}}));
}

TEST_P(BasketRepositoryContract, ParallelRedeliveriesOfPaidOrdersRemoveEachLineOnce) {
  std::vector<std::int64_t> products;
  for (int i = 0; i < 4; ++i) products.push_back(NewProduct());
  for (const std::int64_t p : products) ASSERT_TRUE(SetCart(*store_, 5, p, 1, 1).ok());
  std::atomic<std::int64_t> removed{0};
  RunTogether(8, [&](int caller) {
    PurchasedLines order{5, products, At(10)};
    removed += RemovePurchased(Instance(caller), {order});
  });
  EXPECT_EQ(removed.load(), 4);
  EXPECT_TRUE(Lines(*store_, Basket::kCart, 5).empty());
}

TEST_P(BasketRepositoryContract, AClaimOfAnEmptyCartClaimsNothing) {
  auto claim = Claim(*store_, 5, "k1");
  ASSERT_TRUE(claim.ok());
  EXPECT_EQ(claim->kind, CartClaim::Kind::kEmpty);
  EXPECT_FALSE(claim->last_order_id);
  const std::int64_t p = NewProduct();
  ASSERT_TRUE(SetCart(*store_, 5, p, 1).ok());
  auto started = Claim(*other_, 5, "k2");
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->kind, CartClaim::Kind::kStarted) << "k1 claimed nothing";
  EXPECT_EQ(started->key, "k2");
}

// Two parallel claims of one cart: one started, the others joined (16 callers, two instances, a
// key each).
TEST_P(BasketRepositoryContract, ParallelClaimsOfOneCartStartOneAndJoinTheOthers) {
  const std::int64_t p = NewProduct();
  ASSERT_TRUE(SetCart(*store_, 5, p, 1).ok());
  std::mutex mu;
  std::vector<CartClaim> claims;
  RunTogether(16, [&](int caller) {
    auto claim = Claim(Instance(caller), 5, "key-" + std::to_string(caller));
    ASSERT_TRUE(claim.ok());
    std::lock_guard lock(mu);
    claims.push_back(*claim);
  });
  ASSERT_EQ(claims.size(), 16u);
  std::string started_key;
  int started = 0;
  for (const CartClaim& c : claims) {
    if (c.kind == CartClaim::Kind::kStarted) {
      ++started;
      started_key = c.key;
    }
  }
  ASSERT_EQ(started, 1);
  for (const CartClaim& c : claims) {
    EXPECT_EQ(c.key, started_key);
    EXPECT_NE(c.kind, CartClaim::Kind::kEmpty);
  }
  // Still open: a later claim joins it too.
  auto later = Claim(*store_, 5, "later");
  EXPECT_EQ(later->kind, CartClaim::Kind::kJoined);
  EXPECT_EQ(later->key, started_key);
}

TEST_P(BasketRepositoryContract, APaidEndRemovesTheBoughtLinesAndRecordsTheOrder) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b");
  ASSERT_TRUE(SetCart(*store_, 5, a, 1, 1).ok());
  ASSERT_TRUE(SetCart(*store_, 5, b, 1, 1).ok());
  ASSERT_EQ(Claim(*store_, 5, "k")->kind, CartClaim::Kind::kStarted);
  auto ended = End(*other_, 5, "k", Paid(42, 5, {a}, 10));
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, std::optional<std::int64_t>(42));
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{b, 1}}));
  // Closed: a new claim of the still-filled cart starts afresh.
  auto next = Claim(*store_, 5, "k2");
  ASSERT_EQ(next->kind, CartClaim::Kind::kStarted);
  ASSERT_TRUE(End(*store_, 5, "k2", Paid(43, 5, {b}, 11)).ok());
  // The emptied cart names the order that emptied it.
  auto empty = Claim(*other_, 5, "k3");
  EXPECT_EQ(empty->kind, CartClaim::Kind::kEmpty);
  EXPECT_EQ(empty->last_order_id, std::optional<std::int64_t>(43));
}

// Every joiner of a paid checkout ends it: repeated, in parallel, from two instances, and after
// the member put a bought product back, the ends change nothing more.
TEST_P(BasketRepositoryContract, RepeatedEndsOfOnePaidCheckoutAreHarmless) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b");
  ASSERT_TRUE(SetCart(*store_, 5, a, 1, 1).ok());
  ASSERT_TRUE(SetCart(*store_, 5, b, 1, 1).ok());
  ASSERT_EQ(Claim(*store_, 5, "k")->kind, CartClaim::Kind::kStarted);
  std::atomic<int> named{0};
  RunTogether(8, [&](int caller) {
    auto ended = End(Instance(caller), 5, "k", Paid(42, 5, {a, b}, 10));
    ASSERT_TRUE(ended.ok());
    if (*ended == std::optional<std::int64_t>(42)) ++named;
  });
  EXPECT_EQ(named.load(), 8) << "every joiner learns the order";
  EXPECT_TRUE(Lines(*store_, Basket::kCart, 5).empty());
  ASSERT_TRUE(SetCart(*store_, 5, a, 2, 20).ok());  // put back after the payment
  auto late = End(*other_, 5, "k", Paid(42, 5, {a, b}, 10));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{a, 2}}))
      << "a late end removes nothing new";
  // The claim is closed: the edited cart starts a new checkout.
  EXPECT_EQ(Claim(*store_, 5, "k2")->kind, CartClaim::Kind::kStarted);
}

TEST_P(BasketRepositoryContract, OnlyTheClaimsOwnKeyClosesIt) {
  const std::int64_t a = NewProduct();
  ASSERT_TRUE(SetCart(*store_, 5, a, 1).ok());
  ASSERT_EQ(Claim(*store_, 5, "k1")->kind, CartClaim::Kind::kStarted);
  ASSERT_TRUE(End(*other_, 5, "stale", Paid(41, 5, {}, 10)).ok());
  auto still = Claim(*other_, 5, "k2");
  EXPECT_EQ(still->kind, CartClaim::Kind::kJoined);
  EXPECT_EQ(still->key, "k1");
  // Spent without a payment (declined): closed, lines kept, no order recorded.
  auto declined = End(*store_, 5, "k1");
  ASSERT_TRUE(declined.ok());
  EXPECT_FALSE(*declined);
  EXPECT_EQ(Shape(*store_, Basket::kCart, 5), (LineShape{{a, 1}}));
  auto fresh = Claim(*other_, 5, "k3");
  EXPECT_EQ(fresh->kind, CartClaim::Kind::kStarted);
  EXPECT_EQ(fresh->key, "k3");
}

TEST_P(BasketRepositoryContract, EditingTheCartForgetsTheCheckedOutOrder) {
  const std::int64_t a = NewProduct("a"), b = NewProduct("b");
  ASSERT_TRUE(SetCart(*store_, 5, a, 1, 1).ok());
  ASSERT_EQ(Claim(*store_, 5, "k")->kind, CartClaim::Kind::kStarted);
  ASSERT_TRUE(End(*store_, 5, "k", Paid(42, 5, {a}, 10)).ok());
  EXPECT_EQ(Claim(*other_, 5, "x")->last_order_id, std::optional<std::int64_t>(42));
  ASSERT_TRUE(SetCart(*other_, 5, b, 1, 20).ok());
  EXPECT_EQ(Remove(*store_, Basket::kCart, 5, {b}), 1);
  auto empty = Claim(*store_, 5, "y");
  EXPECT_EQ(empty->kind, CartClaim::Kind::kEmpty);
  EXPECT_FALSE(empty->last_order_id) << "an edited cart is a new cart";
}

}  // namespace rocketmart::catalog::contract

// Wishlist and cart: per-member lists of products, stored durably (BasketRepository) and always
// shown with the product's *current* name, price, live stock and sale state from the catalog's
// in-memory view, never a snapshot taken when the line was added (the original's stale prices).
//
// Rules (constants in domain/shopping.hpp): line quantities 1..99; a cart holds at most 50 lines, a
// wishlist at most 100; one line per product per member (primary key). Wishlist POST of a product
// already listed *adds* the quantity (the original's behaviour), refusing a sum over 99; cart PUT
// *sets* the quantity. Lines of retired products are removed with the product.
//
// Thread-safety: all methods may be called concurrently; ordering of one member's concurrent writes
// is the writer's commit order.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "services/catalog/catalog_service.hpp"
#include "services/catalog/ports/shopping_repository.hpp"

namespace rocketmart::catalog {

struct BasketLine {
  std::int64_t product_id = 0;
  std::string name;
  std::int64_t price = 0;  // current unit price, minor units
  std::int64_t quantity = 0;
  std::int64_t line_total = 0;  // price * quantity
  std::int64_t stock = 0;       // live available stock
  SaleState sale_state = SaleState::kNone;
  TimePoint added_at;
};

struct BasketView {
  std::vector<BasketLine> items;
  std::int64_t total = 0;  // sum of line totals
};

class ShoppingService {
 public:
  ShoppingService(const CatalogService& catalog, BasketRepository& repository, const Clock& clock);

  BasketView Wishlist(std::int64_t member_id) const;
  // Returns the line after the change.
  boost::asio::awaitable<Result<BasketLine>> AddToWishlist(std::int64_t member_id,
                                                           std::int64_t product_id,
                                                           std::int64_t quantity);
  // kNotFound when the product is not in the member's wishlist.
  boost::asio::awaitable<Status> RemoveFromWishlist(std::int64_t member_id,
                                                    std::int64_t product_id);

  BasketView Cart(std::int64_t member_id) const;
  // Sets the line's quantity; returns the cart after the change.
  boost::asio::awaitable<Result<BasketView>> SetCartQuantity(std::int64_t member_id,
                                                             std::int64_t product_id,
                                                             std::int64_t quantity);
  // kNotFound when the product is not in the member's cart; returns the cart after the change.
  boost::asio::awaitable<Result<BasketView>> RemoveFromCart(std::int64_t member_id,
                                                            std::int64_t product_id);
  boost::asio::awaitable<Status> ClearCart(std::int64_t member_id);
  // For checkout (cart checkout, order.paid): drops these lines, ignoring ones already gone.
  boost::asio::awaitable<Result<std::int64_t>> RemoveCartLines(std::int64_t member_id,
                                                               std::vector<std::int64_t> products);
  // order.paid: the bought lines leave the cart, unless changed after the payment.
  boost::asio::awaitable<Result<std::int64_t>> RemovePurchasedLines(
      std::vector<PurchasedLines> orders);

 private:
  BasketView Read(Basket basket, std::int64_t member_id) const;
  std::optional<BasketLine> Join(const StoredLine& line) const;

  const CatalogService& catalog_;
  BasketRepository& repository_;
  const Clock& clock_;
};

}  // namespace rocketmart::catalog

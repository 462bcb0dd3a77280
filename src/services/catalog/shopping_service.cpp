#include "services/catalog/shopping_service.hpp"

namespace rocketmart::catalog {

ShoppingService::ShoppingService(const CatalogService& catalog, BasketRepository& repository,
                                 const Clock& clock)
    : catalog_(catalog), repository_(repository), clock_(clock) {}

std::optional<BasketLine> ShoppingService::Join(const StoredLine& line) const {
  auto view = catalog_.Get(line.product_id);
  // Retiring a product deletes its lines in the same transaction; this only skips the instant
  // between that commit and the in-memory catalog catching up.
  if (!view) return std::nullopt;
  BasketLine out;
  out.product_id = line.product_id;
  out.name = view->product.name;
  out.price = view->product.price;
  out.quantity = line.quantity;
  out.line_total = view->product.price * line.quantity;  // <= 1e12 * 99: no overflow
  out.stock = view->stock;
  out.sale_state = view->sale_state;
  out.added_at = line.added_at;
  return out;
}

BasketView ShoppingService::Read(Basket basket, std::int64_t member_id) const {
  BasketView view;
  for (const StoredLine& line : repository_.Lines(basket, member_id)) {
    if (auto joined = Join(line)) {
      view.total += joined->line_total;
      view.items.push_back(std::move(*joined));
    }
  }
  return view;
}

BasketView ShoppingService::Wishlist(std::int64_t member_id) const {
  return Read(Basket::kWishlist, member_id);
}

BasketView ShoppingService::Cart(std::int64_t member_id) const {
  return Read(Basket::kCart, member_id);
}

boost::asio::awaitable<Result<BasketLine>> ShoppingService::AddToWishlist(std::int64_t member_id,
                                                                          std::int64_t product_id,
                                                                          std::int64_t quantity) {
  if (auto st = ValidateLineQuantity(quantity); !st.ok()) co_return st.error();
  if (!catalog_.Get(product_id)) {
    co_return MakeError(Errc::kNotFound, "no such product", "productId");
  }
  auto stored = co_await repository_.AddToWishlist(member_id, product_id, quantity, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  auto line = Join(*stored);
  if (!line) co_return MakeError(Errc::kNotFound, "no such product", "productId");
  co_return std::move(*line);
}

boost::asio::awaitable<Status> ShoppingService::RemoveFromWishlist(std::int64_t member_id,
                                                                   std::int64_t product_id) {
  // Named, not a temporary inside co_await (GCC 12 may destroy such temporaries twice).
  std::vector<std::int64_t> ids{product_id};
  auto removed = co_await repository_.Remove(Basket::kWishlist, member_id, std::move(ids), false);
  if (!removed.ok()) co_return removed.error();
  if (*removed == 0) co_return MakeError(Errc::kNotFound, "the product is not in your wishlist");
  co_return Ok();
}

boost::asio::awaitable<Result<BasketView>> ShoppingService::SetCartQuantity(std::int64_t member_id,
                                                                            std::int64_t product_id,
                                                                            std::int64_t quantity) {
  if (auto st = ValidateLineQuantity(quantity); !st.ok()) co_return st.error();
  if (!catalog_.Get(product_id)) {
    co_return MakeError(Errc::kNotFound, "no such product", "productId");
  }
  auto stored = co_await repository_.SetCartLine(member_id, product_id, quantity, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  co_return Cart(member_id);
}

boost::asio::awaitable<Result<BasketView>> ShoppingService::RemoveFromCart(
    std::int64_t member_id, std::int64_t product_id) {
  std::vector<std::int64_t> ids{product_id};
  auto removed = co_await repository_.Remove(Basket::kCart, member_id, std::move(ids), false);
  if (!removed.ok()) co_return removed.error();
  if (*removed == 0) co_return MakeError(Errc::kNotFound, "the product is not in your cart");
  co_return Cart(member_id);
}

boost::asio::awaitable<Status> ShoppingService::ClearCart(std::int64_t member_id) {
  std::vector<std::int64_t> none;
  auto removed = co_await repository_.Remove(Basket::kCart, member_id, std::move(none), true);
  if (!removed.ok()) co_return removed.error();
  co_return Ok();
}

boost::asio::awaitable<Result<std::int64_t>> ShoppingService::RemoveCartLines(
    std::int64_t member_id, std::vector<std::int64_t> products) {
  if (products.empty()) co_return std::int64_t{0};
  co_return co_await repository_.Remove(Basket::kCart, member_id, std::move(products), false);
}

boost::asio::awaitable<Result<std::int64_t>> ShoppingService::RemovePurchasedLines(
    std::vector<PurchasedLines> orders) {
  std::erase_if(orders, [](const PurchasedLines& o) { return o.product_ids.empty(); });
  if (orders.empty()) co_return std::int64_t{0};
  auto removed = co_await repository_.RemovePurchased(std::move(orders));
  co_return removed;
}

}  // namespace rocketmart::catalog

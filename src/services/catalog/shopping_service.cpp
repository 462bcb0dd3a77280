#include "services/catalog/shopping_service.hpp"

#include <cstdio>
#include <random>

namespace rocketmart::catalog {
namespace {

// A purchase key no client can send (an Idempotency-Key is printable ASCII without spaces) and no
// other checkout draws: 128 random bits, so it is unique across restarts and instances.
std::string NewCartCheckoutKey() {
  std::random_device random;
  char key[48];
  std::snprintf(key, sizeof key, "cart %08x%08x%08x%08x", random(), random(), random(), random());
  return key;
}

CartCheckoutOutcome EmptyCart(std::optional<std::int64_t> last_order) {
  if (last_order) {
    return {CheckoutAnswer{MakeError(Errc::kCartAlreadyCheckedOut,
                                     "this cart was already checked out; see the order")},
            last_order};
  }
  return {CheckoutAnswer{MakeError(Errc::kConflict, "the cart is empty")}, std::nullopt};
}

}  // namespace

bool SpendsCheckoutKey(const CheckoutAnswer& answer) {
  if (answer.result.ok()) return true;
  const Errc code = answer.result.error().code;
  if (code == Errc::kPaymentDeclined || code == Errc::kIdempotencyKeyReused) return true;
  // A replay comes from a durable hold under the key: settled unless it is still being paid.
  return answer.replayed && code != Errc::kRequestInFlight && code != Errc::kInternal;
}

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

boost::asio::awaitable<CartCheckoutOutcome> ShoppingService::CheckoutCart(
    std::int64_t member_id, bool email_verified, std::optional<std::string> client_key,
    Deadline start_by) {
  if (checkout_ == nullptr) {
    co_return CartCheckoutOutcome{
        CheckoutAnswer{MakeError(Errc::kUnavailable, "checkout is not available")}};
  }
  const bool keyed = client_key.has_value();
  std::string key = keyed ? std::move(*client_key) : NewCartCheckoutKey();
  auto claim = co_await repository_.ClaimCartCheckout(member_id, key, clock_.Now());
  if (!claim.ok()) co_return CartCheckoutOutcome{CheckoutAnswer{claim.error()}};
  const bool claimed = claim->kind != CartClaim::Kind::kEmpty;
  // An empty cart and no open checkout: nothing to buy. A client's key may still name an earlier
  // checkout, which checkout replays (it answers "nothing to buy" for a key it does not know).
  if (!claimed && !keyed) co_return EmptyCart(claim->last_order_id);
  const std::string purchase_key = claimed ? claim->key : key;
  std::vector<CheckoutLine> lines;
  if (claimed) {
    for (const BasketLine& line : Cart(member_id).items) {
      lines.push_back({line.product_id, line.quantity});
    }
  }
  const bool nothing_to_buy = lines.empty();
  std::optional<CheckoutKey> checkout_key =
      CheckoutKey{purchase_key, std::string(kCartCheckoutFingerprint)};
  auto answer = co_await checkout_->Purchase(member_id, email_verified, std::move(lines),
                                             std::move(checkout_key), start_by);
  if (claimed && SpendsCheckoutKey(answer)) {
    std::optional<CartCheckoutPaid> paid;
    if (answer.result.ok()) {
      paid.emplace();
      paid->order_id = answer.result->order_id;
      paid->lines.member_id = member_id;
      paid->lines.paid_at = answer.result->paid_at;
      for (const CheckoutLine& line : answer.result->lines) {
        paid->lines.product_ids.push_back(line.product_id);
      }
    }
    // A failed end (a full writer queue) leaves the claim: the next checkout joins and replays.
    auto ended = co_await repository_.EndCartCheckout(member_id, purchase_key, std::move(paid));
    (void)ended;
  }
  // Checkout knew nothing under the key and the cart had no line.
  if (nothing_to_buy && !answer.replayed && !answer.result.ok() &&
      answer.result.error().code == Errc::kValidationFailed) {
    co_return EmptyCart(claim->last_order_id);
  }
  co_return CartCheckoutOutcome{std::move(answer)};
}

}  // namespace rocketmart::catalog

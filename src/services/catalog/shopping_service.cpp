#include "services/catalog/shopping_service.hpp"

#include <cstdio>
#include <random>

namespace rocketmart::catalog {
namespace {

// The purchase key of a checkout the client sent no key for: 128 random bits, so no other
// checkout draws it (across restarts and instances) and no client guesses it. A valid
// Idempotency-Key (printable ASCII, no spaces): when the services run apart it travels to checkout
// as one, over HTTP.
std::string NewCartCheckoutKey() {
  std::random_device random;
  char key[48];
  std::snprintf(key, sizeof key, "cart:%08x%08x%08x%08x", random(), random(), random(), random());
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
                                 CheckoutClient& checkout, const Clock& clock)
    : catalog_(catalog), repository_(repository), checkout_(checkout), clock_(clock) {}

namespace {

BasketLine Join(const StoredLine& line, const ProductView& view) {
  BasketLine out;
  out.product_id = line.product_id;
  out.name = view.product.name;
  out.price = view.product.price;
  out.quantity = line.quantity;
  out.line_total = view.product.price * line.quantity;  // <= 1e12 * 99: no overflow
  out.stock = view.stock;
  out.sale_state = view.sale_state;
  out.added_at = line.added_at;
  return out;
}

}  // namespace

boost::asio::awaitable<Result<BasketView>> ShoppingService::Read(Basket basket,
                                                                 std::int64_t member_id,
                                                                 Deadline deadline) const {
  auto lines = co_await repository_.Lines(basket, member_id);
  if (!lines.ok()) co_return lines.error();
  std::vector<std::int64_t> ids;
  ids.reserve(lines->size());
  for (const StoredLine& line : *lines) ids.push_back(line.product_id);
  const std::span<const std::int64_t> asked(ids);
  auto views = co_await catalog_.Views(asked, 0, deadline);
  if (!views.ok()) co_return std::move(views).error();
  BasketView view;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    // Retiring a product deletes its lines in the same transaction; this only skips the instant
    // between that commit and the in-memory catalog catching up.
    if (!(*views)[i]) continue;
    BasketLine joined = Join((*lines)[i], *(*views)[i]);
    view.total += joined.line_total;
    view.items.push_back(std::move(joined));
  }
  co_return view;
}

boost::asio::awaitable<Result<BasketView>> ShoppingService::Wishlist(std::int64_t member_id,
                                                                     Deadline deadline) const {
  co_return co_await Read(Basket::kWishlist, member_id, deadline);
}

boost::asio::awaitable<Result<BasketView>> ShoppingService::Cart(std::int64_t member_id,
                                                                 Deadline deadline) const {
  co_return co_await Read(Basket::kCart, member_id, deadline);
}

boost::asio::awaitable<Result<BasketLine>> ShoppingService::AddToWishlist(std::int64_t member_id,
                                                                          std::int64_t product_id,
                                                                          std::int64_t quantity,
                                                                          Deadline deadline) {
  if (auto st = ValidateLineQuantity(quantity); !st.ok()) co_return st.error();
  auto known = co_await catalog_.Knows(product_id);
  if (!known.ok()) co_return std::move(known).error();
  if (!*known) co_return MakeError(Errc::kNotFound, "no such product", "productId");
  auto stored = co_await repository_.AddToWishlist(member_id, product_id, quantity, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  auto view = co_await catalog_.Get(product_id, 0, deadline);
  if (!view.ok()) co_return std::move(view).error();
  if (!*view) co_return MakeError(Errc::kNotFound, "no such product", "productId");
  co_return Join(*stored, **view);
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
                                                                            std::int64_t quantity,
                                                                            Deadline deadline) {
  if (auto st = ValidateLineQuantity(quantity); !st.ok()) co_return st.error();
  auto known = co_await catalog_.Knows(product_id);
  if (!known.ok()) co_return std::move(known).error();
  if (!*known) co_return MakeError(Errc::kNotFound, "no such product", "productId");
  auto stored = co_await repository_.SetCartLine(member_id, product_id, quantity, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  co_return co_await Cart(member_id, deadline);
}

boost::asio::awaitable<Result<BasketView>> ShoppingService::RemoveFromCart(std::int64_t member_id,
                                                                           std::int64_t product_id,
                                                                           Deadline deadline) {
  std::vector<std::int64_t> ids{product_id};
  auto removed = co_await repository_.Remove(Basket::kCart, member_id, std::move(ids), false);
  if (!removed.ok()) co_return removed.error();
  if (*removed == 0) co_return MakeError(Errc::kNotFound, "the product is not in your cart");
  co_return co_await Cart(member_id, deadline);
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
    // A cart that cannot be read now leaves the claim open: the retry joins it.
    auto cart = co_await Cart(member_id, start_by);
    if (!cart.ok()) co_return CartCheckoutOutcome{CheckoutAnswer{cart.error()}};
    for (const BasketLine& line : cart->items) lines.push_back({line.product_id, line.quantity});
  }
  const bool nothing_to_buy = lines.empty();
  std::optional<CheckoutKey> checkout_key =
      CheckoutKey{purchase_key, std::string(kCartCheckoutFingerprint)};
  auto answer = co_await checkout_.Purchase(member_id, email_verified, std::move(lines),
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

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
#include "services/catalog/ports/checkout_client.hpp"
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

// What a cart checkout answers: checkout's answer (first or replayed), or, for a cart emptied by
// its last paid checkout, kCartAlreadyCheckedOut with that order.
struct CartCheckoutOutcome {
  CheckoutAnswer answer;
  std::optional<std::int64_t> checked_out_order;  // set with kCartAlreadyCheckedOut
};

// Every cart checkout of a member is bought under this request fingerprint (the request has no
// body, so it is the same request whatever the tab or key). It is the SHA-256 of
// "POST /cart/checkout\n", the HTTP fingerprint earlier versions stored for a client's key, so
// their records still replay.
inline constexpr std::string_view kCartCheckoutFingerprint =
    "cff70f1228ac9923783aec4bea0a9a268d0f205f692405bfe3b12f6143fb2230";

// Has a cart checkout's purchase key been spent: paid, or refused with a durable outcome under
// it (declined, a replayed refusal, the key taken by another request), so that nothing can ever
// be bought under it again and the cart's claim may close? Any other refusal (sold out, window,
// limit, validation...) wrote nothing under the key and a transient one (REQUEST_IN_FLIGHT,
// OVERLOADED, TIMEOUT...) may leave a purchase open or still to come: the claim stays open and
// the next checkout buys under the same key.
bool SpendsCheckoutKey(const CheckoutAnswer& answer);

class ShoppingService {
 public:
  // `checkout` is where the cart buys (embedded: checkout in-process; distributed: its HTTP API).
  ShoppingService(const CatalogService& catalog, BasketRepository& repository,
                  CheckoutClient& checkout, const Clock& clock);

  // The member's wishlist, joined with the live products. An error only when the lines cannot be
  // read (the repository's outage); products whose figures cannot be read show sale state
  // "unknown".
  // `deadline` (the request's) bounds reading checkout's figures, here and below.
  boost::asio::awaitable<Result<BasketView>> Wishlist(std::int64_t member_id,
                                                      Deadline deadline) const;
  // Returns the line after the change.
  boost::asio::awaitable<Result<BasketLine>> AddToWishlist(std::int64_t member_id,
                                                           std::int64_t product_id,
                                                           std::int64_t quantity,
                                                           Deadline deadline);
  // kNotFound when the product is not in the member's wishlist.
  boost::asio::awaitable<Status> RemoveFromWishlist(std::int64_t member_id,
                                                    std::int64_t product_id);

  boost::asio::awaitable<Result<BasketView>> Cart(std::int64_t member_id, Deadline deadline) const;
  // Sets the line's quantity; returns the cart after the change.
  boost::asio::awaitable<Result<BasketView>> SetCartQuantity(std::int64_t member_id,
                                                             std::int64_t product_id,
                                                             std::int64_t quantity,
                                                             Deadline deadline);
  // kNotFound when the product is not in the member's cart; returns the cart after the change.
  boost::asio::awaitable<Result<BasketView>> RemoveFromCart(std::int64_t member_id,
                                                            std::int64_t product_id,
                                                            Deadline deadline);
  boost::asio::awaitable<Status> ClearCart(std::int64_t member_id);
  // For checkout (cart checkout, order.paid): drops these lines, ignoring ones already gone.
  boost::asio::awaitable<Result<std::int64_t>> RemoveCartLines(std::int64_t member_id,
                                                               std::vector<std::int64_t> products);
  // order.paid: the bought lines leave the cart, unless changed after the payment.
  boost::asio::awaitable<Result<std::int64_t>> RemovePurchasedLines(
      std::vector<PurchasedLines> orders);

  // Buys the member's cart, at most once whatever the keys, tabs or instances (issue 11):
  //  1. one transaction joins the member's open cart checkout or opens one under `client_key`
  //     (or a generated key when the client sent none);
  //  2. checkout buys the cart's current lines under the claim's key and kCartCheckoutFingerprint,
  //     so every joiner is answered from that one purchase (first, waiting, or replayed);
  //  3. an answer that spends the key (SpendsCheckoutKey) closes the claim; when paid, the same
  //     transaction removes the bought lines and records the order. Any other answer (or a crash)
  //     leaves the claim for the next checkout to join and settle from checkout's durable record
  //     or buy once.
  // An empty cart answers kConflict, or kCartAlreadyCheckedOut naming the order when its last
  // checkout was paid and it was not edited since; a client key checkout already knows replays.
  boost::asio::awaitable<CartCheckoutOutcome> CheckoutCart(std::int64_t member_id,
                                                           bool email_verified,
                                                           std::optional<std::string> client_key,
                                                           Deadline start_by = kNoDeadline);

 private:
  boost::asio::awaitable<Result<BasketView>> Read(Basket basket, std::int64_t member_id,
                                                  Deadline deadline) const;

  const CatalogService& catalog_;
  BasketRepository& repository_;
  CheckoutClient& checkout_;
  const Clock& clock_;
};

}  // namespace rocketmart::catalog

// Ports: durable likes, wishlist and cart rows, and the claim of an open cart checkout. Implemented
// by adapters/sqlite_shopping_repository; the promises are checked, through these interfaces only,
// by tests/contract/catalog/{like,basket}_repository_contract.hpp.
//
// One convention: every call a request waits for is a coroutine returning Result (an adapter that
// answers from memory or a page cache may complete inline; a remote one reports an outage as an
// error, kUnavailable); the start-up loads alone are synchronous. Writes complete only after the
// change committed; each one checks that the product exists and is not retired inside its own
// transaction (kNotFound otherwise), so a line can never point at a product retired concurrently.
// Several instances may share one store: their writes serialize in the store.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "services/catalog/domain/shopping.hpp"

namespace rocketmart::catalog {

class LikeRepository {
 public:
  virtual ~LikeRepository() = default;
  // Idempotent like/unlike (or toggle) of one product by one member, with the product's count
  // updated in the same transaction, and like.changed (catalog's api/) appended to the outbox in
  // it, for every committed change. kConflict when the member already has kMaxLikesPerMember.
  virtual boost::asio::awaitable<Result<LikeChange>> ChangeLike(std::int64_t member_id,
                                                                std::int64_t product_id, LikeOp op,
                                                                TimePoint now) = 0;
  // Every (member_id, product_id) like, with each product's count and sequence number, as one
  // consistent snapshot. Start-up only: synchronous by design, called once before serving.
  virtual LikeSnapshot LoadLikes() = 0;
  // The member's likes (of live and retired products), most recent first, at most `limit`. Reads
  // the latest committed state.
  virtual boost::asio::awaitable<Result<std::vector<Like>>> LikedBy(std::int64_t member_id,
                                                                    std::size_t limit) = 0;
};

enum class Basket { kWishlist, kCart };

// One paid order's lines, as far as the member's cart is concerned.
struct PurchasedLines {
  std::int64_t member_id = 0;
  std::vector<std::int64_t> product_ids;
  TimePoint paid_at;
};

// The durable claim that makes one cart buy at most once (see ShoppingService::CheckoutCart):
// while a member's cart checkout is open, every checkout of that cart joins it and buys under its
// key, so checkout's idempotency answers them all from one purchase.
struct CartClaim {
  enum class Kind {
    kStarted,  // no checkout was open: this request's key now claims the cart
    kJoined,   // a checkout was open: buy under its key
    kEmpty,    // none was open and the cart has no line: nothing was claimed
  };
  Kind kind = Kind::kEmpty;
  std::string key;  // the purchase key to use (kStarted, kJoined)
  // kEmpty: the order of the member's last successful checkout, unless the cart was edited since.
  std::optional<std::int64_t> last_order_id;
};

// A cart checkout that ended paid: its order and the lines it bought.
struct CartCheckoutPaid {
  std::int64_t order_id = 0;
  PurchasedLines lines;
};

class BasketRepository {
 public:
  virtual ~BasketRepository() = default;
  // Wishlist: adds `quantity` to the member's line (creating it). kValidationFailed when the sum
  // would exceed kLineQuantityMax, kConflict when a new line would exceed kWishlistMaxItems.
  virtual boost::asio::awaitable<Result<StoredLine>> AddToWishlist(std::int64_t member_id,
                                                                   std::int64_t product_id,
                                                                   std::int64_t quantity,
                                                                   TimePoint now) = 0;
  // Cart: sets the line's quantity (creating it). kConflict when a new line would exceed
  // kCartMaxLines.
  virtual boost::asio::awaitable<Result<StoredLine>> SetCartLine(std::int64_t member_id,
                                                                 std::int64_t product_id,
                                                                 std::int64_t quantity,
                                                                 TimePoint now) = 0;
  // Removes the given lines (all of the basket when product_ids is empty and `all` is true).
  // Returns how many lines were removed.
  virtual boost::asio::awaitable<Result<std::int64_t>> Remove(Basket basket, std::int64_t member_id,
                                                              std::vector<std::int64_t> product_ids,
                                                              bool all) = 0;
  // Removes cart lines bought at each order's `paid_at`: lines changed after it (re-added or edited
  // since) stay, which makes a redelivered order.paid harmless. All orders in one transaction (a
  // drop delivers thousands at once). Returns how many lines were removed.
  virtual boost::asio::awaitable<Result<std::int64_t>> RemovePurchased(
      std::vector<PurchasedLines> orders) = 0;
  // The member's lines in the order they were added. Reads the latest committed state.
  virtual boost::asio::awaitable<Result<std::vector<StoredLine>>> Lines(Basket basket,
                                                                        std::int64_t member_id) = 0;

  // One transaction: joins the member's open cart checkout, or, when none is open and the cart has
  // a line, opens one under `key`. Two instances on one database serialize on the write lock.
  virtual boost::asio::awaitable<Result<CartClaim>> ClaimCartCheckout(std::int64_t member_id,
                                                                      std::string key,
                                                                      TimePoint now) = 0;
  // One transaction: closes the member's open cart checkout if it is still `key`'s, and when the
  // purchase was paid also removes the bought lines (as RemovePurchased does: lines changed after
  // the payment stay) and records the order as the cart's last checkout. Harmless when repeated
  // (every joiner of a paid checkout calls it). Returns the member's last checked-out order after
  // the change, if any.
  virtual boost::asio::awaitable<Result<std::optional<std::int64_t>>> EndCartCheckout(
      std::int64_t member_id, std::string key, std::optional<CartCheckoutPaid> paid) = 0;
};

}  // namespace rocketmart::catalog

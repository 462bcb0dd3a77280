// Ports: durable likes, wishlist and cart rows. Implemented by adapters/sqlite_shopping_repository.
// Writes are coroutines that complete only after the change committed; each one checks that the
// product exists and is not retired inside its own transaction (kNotFound otherwise), so a line can
// never point at a product retired concurrently.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "services/catalog/domain/shopping.hpp"

namespace rocketmart::catalog {

class LikeRepository {
 public:
  virtual ~LikeRepository() = default;
  // Idempotent like/unlike (or toggle) of one product by one member, with the product's count
  // updated in the same transaction. kConflict when the member already has kMaxLikesPerMember.
  virtual boost::asio::awaitable<Result<LikeChange>> ChangeLike(std::int64_t member_id,
                                                                std::int64_t product_id, LikeOp op,
                                                                TimePoint now) = 0;
  // Every (member_id, product_id) like. Start-up only.
  virtual std::vector<std::pair<std::int64_t, std::int64_t>> LoadLikes() = 0;
  // The products a member likes, most recent first (a reader connection; for "my page").
  virtual std::vector<std::int64_t> LikedBy(std::int64_t member_id, std::size_t limit) = 0;
};

enum class Basket { kWishlist, kCart };

// One paid order's lines, as far as the member's cart is concerned.
struct PurchasedLines {
  std::int64_t member_id = 0;
  std::vector<std::int64_t> product_ids;
  TimePoint paid_at;
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
  virtual std::vector<StoredLine> Lines(Basket basket, std::int64_t member_id) = 0;
};

}  // namespace rocketmart::catalog

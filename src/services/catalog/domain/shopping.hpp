// The shopper's side of the catalog: likes, wishlist and cart rules, and a product's sale state.
// Pure: no I/O; "now" is passed in by the caller (which owns the injected clock).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/sale_state.hpp"

namespace rocketmart::catalog {

// Bounds, part of the public contract (docs/shopping.md, OpenAPI).
inline constexpr std::int64_t kLineQuantityMin = 1;
inline constexpr std::int64_t kLineQuantityMax = 99;
inline constexpr std::int64_t kCartMaxLines = 50;
inline constexpr std::int64_t kWishlistMaxItems = 100;
// Bounds the in-memory like index too (see docs/shopping.md for the memory arithmetic).
inline constexpr std::int64_t kMaxLikesPerMember = 10'000;

// A product's sale window, as checkout schedules it.
struct SaleInfo {
  TimePoint starts_at;
  TimePoint ends_at;
  std::int64_t per_member_limit = 0;
};

// Where a product stands in its drop. kEnded is shown but is not a list filter the brief asked for;
// it is accepted as one anyway since it is a state a shopper sees.

// upcoming before start, live inside [starts_at, ends_at) with stock, soldout inside without,
// preparing inside while inventory does not know the product (stock nullopt), ended from ends_at
// on, none without a sale.
SaleState ComputeSaleState(const std::optional<SaleInfo>& sale, std::optional<std::int64_t> stock,
                           TimePoint now);

// A cart or wishlist line quantity: kLineQuantityMin..kLineQuantityMax.
Status ValidateLineQuantity(std::int64_t quantity);

enum class LikeOp { kLike, kUnlike, kToggle };

// The committed outcome of one like change. `seq` strictly increases with each committed change of
// the product, in commit order, whichever instance of the repository made it, so an in-memory view
// applying outcomes out of order keeps the newest.
struct LikeChange {
  std::int64_t likes = 0;  // the product's count after this change committed
  bool liked = false;      // the member's like after this change
  std::uint64_t seq = 0;
};

// What an in-memory view of likes starts from, read as one snapshot: every (member_id, product_id)
// like, and the count and latest sequence number of every product whose likes ever changed. A
// change committed after the snapshot carries a larger sequence number.
struct ProductLikes {
  std::int64_t product_id = 0;
  std::int64_t likes = 0;
  std::uint64_t seq = 0;
};
struct LikeSnapshot {
  std::vector<std::pair<std::int64_t, std::int64_t>> likes;
  std::vector<ProductLikes> products;
};

// One of a member's likes.
struct Like {
  std::int64_t product_id = 0;
  TimePoint liked_at;
};

// A stored cart or wishlist line, before it is joined with the live product.
struct StoredLine {
  std::int64_t product_id = 0;
  std::int64_t quantity = 0;
  TimePoint added_at;
};

}  // namespace rocketmart::catalog

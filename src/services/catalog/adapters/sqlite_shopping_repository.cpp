#include "services/catalog/adapters/sqlite_shopping_repository.hpp"

#include <string>

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/catalog/adapters/event_payloads.hpp"

namespace rocketmart::catalog {
namespace {

// Inside a writer job: is the product there and not retired?
bool ProductIsLive(storage::Database& db, std::int64_t product_id) {
  auto& stmt = db.Cached("SELECT retired FROM products WHERE id = ?");
  stmt.BindInt64(1, product_id);
  const bool live = stmt.Step() && stmt.Int64(0) == 0;
  stmt.Reset();
  return live;
}

std::int64_t QueryInt(storage::Database& db, std::string_view sql, std::int64_t a,
                      std::int64_t b = 0, bool bind_b = false) {
  auto& stmt = db.Cached(sql);
  stmt.BindInt64(1, a);
  if (bind_b) stmt.BindInt64(2, b);
  const std::int64_t value = stmt.Step() ? stmt.Int64(0) : -1;
  stmt.Reset();
  return value;
}

std::string_view Table(Basket basket) {
  return basket == Basket::kCart ? "cart_items" : "wishlist";
}

Error NoSuchProduct() {
  return MakeError(Errc::kNotFound, "no such product", "productId");
}

// Removes the cart lines of one paid order, except those changed after the payment (re-added or
// edited since). Returns how many were removed.
std::int64_t RemovePurchasedLines(storage::Database& db, const PurchasedLines& order) {
  std::int64_t removed = 0;
  auto& stmt = db.Cached(
      "DELETE FROM cart_items WHERE member_id = ? AND product_id = ? AND updated_at_ms <= ?");
  for (std::int64_t product_id : order.product_ids) {
    stmt.Reset();
    stmt.BindInt64(1, order.member_id)
        .BindInt64(2, product_id)
        .BindInt64(3, ToUnixMillis(order.paid_at));
    stmt.Step();
    removed += db.Changes();
  }
  stmt.Reset();
  return removed;
}

}  // namespace

boost::asio::awaitable<Result<LikeChange>> SqliteShoppingRepository::ChangeLike(
    std::int64_t member_id, std::int64_t product_id, LikeOp op, TimePoint now) {
  auto job = [member_id, product_id, op, now](storage::Database& db) -> Result<LikeChange> {
    if (!ProductIsLive(db, product_id)) return NoSuchProduct();
    bool like = op == LikeOp::kLike;
    if (op == LikeOp::kToggle) {
      like = QueryInt(db, "SELECT 1 FROM likes WHERE product_id = ? AND member_id = ?", product_id,
                      member_id, true) != 1;
    }
    std::int64_t delta = 0;
    if (like) {
      auto& insert = db.Cached(
          "INSERT OR IGNORE INTO likes (product_id, member_id, created_at_ms) VALUES (?, ?, ?)");
      insert.BindInt64(1, product_id).BindInt64(2, member_id).BindInt64(3, ToUnixMillis(now));
      insert.Step();
      if (db.Changes() == 1) {
        // Counted only when a row was added; the index keeps this cheap at the bound.
        if (QueryInt(db, "SELECT COUNT(*) FROM likes WHERE member_id = ?", member_id) >
            kMaxLikesPerMember) {
          return MakeError(
              Errc::kConflict,
              "a member can like at most " + std::to_string(kMaxLikesPerMember) + " products",
              "productId");
        }
        delta = 1;
      }
    } else {
      auto& remove = db.Cached("DELETE FROM likes WHERE product_id = ? AND member_id = ?");
      remove.BindInt64(1, product_id).BindInt64(2, member_id);
      remove.Step();
      if (db.Changes() == 1) delta = -1;
    }
    // The count follows the rows, and every change (even one that found the like as asked) takes
    // the product's next sequence number, in the same transaction: stored with the product, it
    // orders the product's changes in commit order whichever instance made them.
    auto& count = db.Cached(
        "UPDATE products SET like_count = like_count + ?, like_seq = like_seq + 1 WHERE id = ? "
        "RETURNING like_count, like_seq");
    count.BindInt64(1, delta).BindInt64(2, product_id);
    LikeChange change;
    change.liked = like;
    if (count.Step()) {
      change.likes = count.Int64(0);
      change.seq = static_cast<std::uint64_t>(count.Int64(1));
    }
    count.Reset();
    // Every committed change is published (even one that found the like as asked: every sequence
    // number then reaches every instance, which lets their indexes forget settled unlikes).
    events::sqlite_outbox::Append(db, api::kLikeChanged,
                                  LikeChangedPayload(member_id, product_id, change), now);
    return change;
  };
  co_return co_await async::Write<LikeChange>(writer_, std::move(job));
}

LikeSnapshot SqliteShoppingRepository::LoadLikes() {
  LikeSnapshot out;
  writer_.RunSync([&out](storage::Database& db) {
    // On the writer: no like change commits between the two reads.
    auto products = db.Prepare(
        "SELECT id, like_count, like_seq FROM products WHERE like_count > 0 OR like_seq > 0");
    while (products.Step()) {
      out.products.push_back(ProductLikes{products.Int64(0), products.Int64(1),
                                          static_cast<std::uint64_t>(products.Int64(2))});
    }
    auto likes = db.Prepare("SELECT member_id, product_id FROM likes");
    while (likes.Step()) out.likes.emplace_back(likes.Int64(0), likes.Int64(1));
  });
  return out;
}

// Reads complete inline: a point query on the calling thread's reader connection, answered from
// the page cache (WAL: never waits for the writer).
boost::asio::awaitable<Result<std::vector<Like>>> SqliteShoppingRepository::LikedBy(
    std::int64_t member_id, std::size_t limit) {
  storage::Database& db = readers_.ForThisThread();
  auto& stmt = db.Cached(
      "SELECT product_id, created_at_ms FROM likes WHERE member_id = ? "
      "ORDER BY created_at_ms DESC, product_id LIMIT ?");
  stmt.BindInt64(1, member_id).BindInt64(2, static_cast<std::int64_t>(limit));
  std::vector<Like> out;
  while (stmt.Step()) out.push_back(Like{stmt.Int64(0), FromUnixMillis(stmt.Int64(1))});
  stmt.Reset();
  co_return out;
}

boost::asio::awaitable<Result<StoredLine>> SqliteShoppingRepository::AddToWishlist(
    std::int64_t member_id, std::int64_t product_id, std::int64_t quantity, TimePoint now) {
  auto job = [member_id, product_id, quantity, now](storage::Database& db) -> Result<StoredLine> {
    if (!ProductIsLive(db, product_id)) return NoSuchProduct();
    auto& find = db.Cached(
        "SELECT quantity, added_at_ms FROM wishlist WHERE member_id = ? AND product_id = ?");
    find.BindInt64(1, member_id).BindInt64(2, product_id);
    std::optional<StoredLine> existing;
    if (find.Step())
      existing = StoredLine{product_id, find.Int64(0), FromUnixMillis(find.Int64(1))};
    find.Reset();
    if (existing) {
      const std::int64_t total = existing->quantity + quantity;
      if (total > kLineQuantityMax) {
        return MakeError(Errc::kValidationFailed,
                         "the wishlist line would hold " + std::to_string(total) + " (at most " +
                             std::to_string(kLineQuantityMax) + ")",
                         "quantity");
      }
      db.Cached(
            "UPDATE wishlist SET quantity = ?, updated_at_ms = ? WHERE member_id = ? AND "
            "product_id = ?")
          .BindInt64(1, total)
          .BindInt64(2, ToUnixMillis(now))
          .BindInt64(3, member_id)
          .BindInt64(4, product_id)
          .Step();
      existing->quantity = total;
      return *existing;
    }
    if (QueryInt(db, "SELECT COUNT(*) FROM wishlist WHERE member_id = ?", member_id) >=
        kWishlistMaxItems) {
      return MakeError(
          Errc::kConflict,
          "the wishlist holds at most " + std::to_string(kWishlistMaxItems) + " products",
          "productId");
    }
    db.Cached(
          "INSERT INTO wishlist (member_id, product_id, quantity, added_at_ms, updated_at_ms) "
          "VALUES (?, ?, ?, ?, ?)")
        .BindInt64(1, member_id)
        .BindInt64(2, product_id)
        .BindInt64(3, quantity)
        .BindInt64(4, ToUnixMillis(now))
        .BindInt64(5, ToUnixMillis(now))
        .Step();
    return StoredLine{product_id, quantity, now};
  };
  co_return co_await async::Write<StoredLine>(writer_, std::move(job));
}

boost::asio::awaitable<Result<StoredLine>> SqliteShoppingRepository::SetCartLine(
    std::int64_t member_id, std::int64_t product_id, std::int64_t quantity, TimePoint now) {
  auto job = [member_id, product_id, quantity, now](storage::Database& db) -> Result<StoredLine> {
    if (!ProductIsLive(db, product_id)) return NoSuchProduct();
    // An edited cart is a new cart: its emptiness no longer says "already checked out".
    db.Cached(
          "UPDATE cart_checkouts SET last_order_id = NULL WHERE member_id = ? AND last_order_id "
          "IS NOT NULL")
        .BindInt64(1, member_id)
        .Step();
    auto& update = db.Cached(
        "UPDATE cart_items SET quantity = ?, updated_at_ms = ? WHERE member_id = ? AND "
        "product_id = ?");
    update.BindInt64(1, quantity)
        .BindInt64(2, ToUnixMillis(now))
        .BindInt64(3, member_id)
        .BindInt64(4, product_id);
    update.Step();
    if (db.Changes() == 1) {
      const std::int64_t added =
          QueryInt(db, "SELECT added_at_ms FROM cart_items WHERE member_id = ? AND product_id = ?",
                   member_id, product_id, true);
      return StoredLine{product_id, quantity, FromUnixMillis(added)};
    }
    if (QueryInt(db, "SELECT COUNT(*) FROM cart_items WHERE member_id = ?", member_id) >=
        kCartMaxLines) {
      return MakeError(Errc::kConflict,
                       "the cart holds at most " + std::to_string(kCartMaxLines) + " lines",
                       "productId");
    }
    db.Cached(
          "INSERT INTO cart_items (member_id, product_id, quantity, added_at_ms, updated_at_ms) "
          "VALUES (?, ?, ?, ?, ?)")
        .BindInt64(1, member_id)
        .BindInt64(2, product_id)
        .BindInt64(3, quantity)
        .BindInt64(4, ToUnixMillis(now))
        .BindInt64(5, ToUnixMillis(now))
        .Step();
    return StoredLine{product_id, quantity, now};
  };
  co_return co_await async::Write<StoredLine>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::int64_t>> SqliteShoppingRepository::Remove(
    Basket basket, std::int64_t member_id, std::vector<std::int64_t> product_ids, bool all) {
  auto job = [basket, member_id, product_ids = std::move(product_ids),
              all](storage::Database& db) -> Result<std::int64_t> {
    const std::string table(Table(basket));
    if (all) {
      db.Cached("DELETE FROM " + table + " WHERE member_id = ?").BindInt64(1, member_id).Step();
      return db.Changes();
    }
    std::int64_t removed = 0;
    auto& stmt = db.Cached("DELETE FROM " + table + " WHERE member_id = ? AND product_id = ?");
    for (std::int64_t product_id : product_ids) {
      stmt.Reset();
      stmt.BindInt64(1, member_id).BindInt64(2, product_id);
      stmt.Step();
      removed += db.Changes();
    }
    return removed;
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::int64_t>> SqliteShoppingRepository::RemovePurchased(
    std::vector<PurchasedLines> orders) {
  auto job = [orders = std::move(orders)](storage::Database& db) -> Result<std::int64_t> {
    std::int64_t removed = 0;
    for (const PurchasedLines& order : orders) removed += RemovePurchasedLines(db, order);
    return removed;
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

boost::asio::awaitable<Result<CartClaim>> SqliteShoppingRepository::ClaimCartCheckout(
    std::int64_t member_id, std::string key, TimePoint now) {
  auto job = [member_id, key = std::move(key), now](storage::Database& db) -> Result<CartClaim> {
    CartClaim claim;
    auto& find =
        db.Cached("SELECT claim_key, last_order_id FROM cart_checkouts WHERE member_id = ?");
    find.BindInt64(1, member_id);
    if (find.Step()) {
      if (!find.IsNull(0)) {
        claim.kind = CartClaim::Kind::kJoined;
        claim.key = find.Text(0);
      }
      if (!find.IsNull(1)) claim.last_order_id = find.Int64(1);
    }
    find.Reset();
    if (claim.kind == CartClaim::Kind::kJoined) return claim;
    if (QueryInt(db, "SELECT EXISTS (SELECT 1 FROM cart_items WHERE member_id = ?)", member_id) !=
        1) {
      return claim;  // kEmpty: nothing to buy, nothing claimed
    }
    db.Cached(
          "INSERT INTO cart_checkouts (member_id, claim_key, claimed_at_ms) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (member_id) DO UPDATE SET claim_key = ?2, claimed_at_ms = ?3")
        .BindInt64(1, member_id)
        .BindText(2, key)
        .BindInt64(3, ToUnixMillis(now))
        .Step();
    claim.kind = CartClaim::Kind::kStarted;
    claim.key = key;
    claim.last_order_id.reset();
    return claim;
  };
  co_return co_await async::Write<CartClaim>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::optional<std::int64_t>>>
SqliteShoppingRepository::EndCartCheckout(std::int64_t member_id, std::string key,
                                          std::optional<CartCheckoutPaid> paid) {
  auto job = [member_id, key = std::move(key), paid = std::move(paid)](
                 storage::Database& db) -> Result<std::optional<std::int64_t>> {
    db.Cached(
          "UPDATE cart_checkouts SET claim_key = NULL, claimed_at_ms = NULL "
          "WHERE member_id = ? AND claim_key = ?")
        .BindInt64(1, member_id)
        .BindText(2, key)
        .Step();
    const bool closed = db.Changes() == 1;
    if (paid) {
      RemovePurchasedLines(db, paid->lines);
      // Only the call that closed the claim records its order: a late joiner, or a replay of an
      // old key, never names an older order after the cart moved on.
      if (closed) {
        db.Cached("UPDATE cart_checkouts SET last_order_id = ? WHERE member_id = ?")
            .BindInt64(1, paid->order_id)
            .BindInt64(2, member_id)
            .Step();
      }
    }
    auto& last = db.Cached("SELECT last_order_id FROM cart_checkouts WHERE member_id = ?");
    last.BindInt64(1, member_id);
    std::optional<std::int64_t> out;
    if (last.Step() && !last.IsNull(0)) out = last.Int64(0);
    last.Reset();
    return out;
  };
  co_return co_await async::Write<std::optional<std::int64_t>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::vector<StoredLine>>> SqliteShoppingRepository::Lines(
    Basket basket, std::int64_t member_id) {
  storage::Database& db = readers_.ForThisThread();
  auto& stmt =
      db.Cached("SELECT product_id, quantity, added_at_ms FROM " + std::string(Table(basket)) +
                " WHERE member_id = ? ORDER BY added_at_ms, product_id");
  stmt.BindInt64(1, member_id);
  std::vector<StoredLine> out;
  while (stmt.Step()) {
    out.push_back(StoredLine{stmt.Int64(0), stmt.Int64(1), FromUnixMillis(stmt.Int64(2))});
  }
  stmt.Reset();
  co_return out;
}

}  // namespace rocketmart::catalog

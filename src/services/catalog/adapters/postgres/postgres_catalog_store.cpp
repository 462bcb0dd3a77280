#include "services/catalog/adapters/postgres/postgres_catalog_store.hpp"

#include <string>

#include "infra/async/run.hpp"
#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/migrations.hpp"
#include "infra/postgres/transaction.hpp"
#include "services/catalog/adapters/event_payloads.hpp"
#include "services/catalog/api/events.hpp"

namespace rocketmart::catalog {

namespace asio = boost::asio;
using postgres::Connection;
using postgres::MakeParams;
using postgres::Rows;

namespace {

constexpr postgres::Migration kMigrations[] = {
    // The SQLite schema's four versions as one (products, likes, wishlist, cart, cart checkouts,
    // like sequence numbers); see sqlite_product_repository.cpp for why each column exists.
    {1, "catalog", R"sql(
      CREATE TABLE products (
        id            bigserial PRIMARY KEY,
        name          text    NOT NULL,
        description   text    NOT NULL,
        price         bigint  NOT NULL CHECK (price >= 0),
        image_url     text    NOT NULL,
        initial_stock bigint  NOT NULL CHECK (initial_stock >= 0),
        retired       boolean NOT NULL DEFAULT false,
        created_at_ms bigint  NOT NULL,
        updated_at_ms bigint  NOT NULL,
        version       bigint  NOT NULL,
        like_count    bigint  NOT NULL DEFAULT 0,
        like_seq      bigint  NOT NULL DEFAULT 0
      );
      CREATE TABLE likes (
        product_id    bigint NOT NULL REFERENCES products (id),
        member_id     bigint NOT NULL,
        created_at_ms bigint NOT NULL,
        PRIMARY KEY (product_id, member_id)
      );
      CREATE INDEX likes_by_member ON likes (member_id, created_at_ms DESC, product_id);
      CREATE TABLE wishlist (
        member_id     bigint NOT NULL,
        product_id    bigint NOT NULL REFERENCES products (id),
        quantity      bigint NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        added_at_ms   bigint NOT NULL,
        updated_at_ms bigint NOT NULL,
        PRIMARY KEY (member_id, product_id)
      );
      CREATE INDEX wishlist_by_product ON wishlist (product_id);
      CREATE TABLE cart_items (
        member_id     bigint NOT NULL,
        product_id    bigint NOT NULL REFERENCES products (id),
        quantity      bigint NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        added_at_ms   bigint NOT NULL,
        updated_at_ms bigint NOT NULL,
        PRIMARY KEY (member_id, product_id)
      );
      CREATE INDEX cart_items_by_product ON cart_items (product_id);
      CREATE TABLE cart_checkouts (
        member_id     bigint PRIMARY KEY,
        claim_key     text,
        claimed_at_ms bigint,
        last_order_id bigint
      );
    )sql"},
};

constexpr std::string_view kSelectProduct =
    "SELECT id, name, description, price, image_url, initial_stock, retired, created_at_ms, "
    "updated_at_ms, version FROM products";

Product ReadProduct(const Rows& r, int row) {
  Product p;
  p.id = r.Int64(row, 0);
  p.name = std::string(r.Text(row, 1));
  p.description = std::string(r.Text(row, 2));
  p.price = r.Int64(row, 3);
  p.image_url = std::string(r.Text(row, 4));
  p.initial_stock = r.Int64(row, 5);
  p.retired = r.Bool(row, 6);
  p.created_at = FromUnixMillis(r.Int64(row, 7));
  p.updated_at = FromUnixMillis(r.Int64(row, 8));
  p.version = r.Int64(row, 9);
  return p;
}

Error NoSuchProduct() {
  return MakeError(Errc::kNotFound, "no such product", "productId");
}

// The product, its row locked for update (nullopt when unknown).
asio::awaitable<Result<std::optional<Product>>> LockProduct(Connection& c, std::int64_t id) {
  static const std::string sql = std::string(kSelectProduct) + " WHERE id = $1 FOR UPDATE";
  auto params = MakeParams(id);
  auto rows = co_await c.Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<Product> out;
  if (!rows->empty()) out = ReadProduct(*rows, 0);
  co_return out;
}

asio::awaitable<Status> Store(Connection& c, const Product& p) {
  auto params = MakeParams(p.name, p.description, p.price, p.image_url, p.retired,
                           ToUnixMillis(p.updated_at), p.version, p.id);
  auto rows = co_await c.Query(
      "UPDATE products SET name = $1, description = $2, price = $3, image_url = $4, "
      "retired = $5, updated_at_ms = $6, version = $7 WHERE id = $8",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return Ok();
}

asio::awaitable<Status> Publish(Connection& c, std::string_view topic, const Product& p,
                                TimePoint now) {
  const std::string payload = ProductEventPayload(p);
  auto seq = co_await events::postgres_outbox::Append(c, topic, payload, now);
  if (!seq.ok()) co_return std::move(seq).error();
  co_return Ok();
}

// True when the product exists and is not retired; its row is share-locked until the end of the
// transaction, so it cannot be retired before this transaction's line is committed.
asio::awaitable<Result<bool>> ProductIsLive(Connection& c, std::int64_t product_id) {
  auto params = MakeParams(product_id);
  auto rows =
      co_await c.Query("SELECT retired FROM products WHERE id = $1 FOR SHARE", std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return !rows->empty() && !rows->Bool(0, 0);
}

// Serializes one member's basket writes across every instance until the transaction ends.
asio::awaitable<Status> LockMemberBasket(Connection& c, std::int64_t member_id) {
  auto params = MakeParams(member_id);
  auto rows =
      co_await c.Query("SELECT pg_advisory_xact_lock(hashtextextended('catalog.basket:' || $1, 0))",
                       std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return Ok();
}

asio::awaitable<Result<std::int64_t>> Count(Connection& c, std::string_view sql,
                                            std::int64_t member) {
  auto params = MakeParams(member);
  auto rows = co_await c.Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->Int64(0, 0);
}

// Before a cart or wishlist line is written: the member's basket locked, the product live and
// share-locked (kNotFound otherwise).
asio::awaitable<Status> PrepareLineWrite(Connection& c, std::int64_t member_id,
                                         std::int64_t product_id) {
  auto locked = co_await LockMemberBasket(c, member_id);
  if (!locked.ok()) co_return locked;
  auto live = co_await ProductIsLive(c, product_id);
  if (!live.ok()) co_return std::move(live).error();
  if (!*live) co_return NoSuchProduct();
  co_return Ok();
}

std::string_view Table(Basket basket) {
  return basket == Basket::kCart ? "cart_items" : "wishlist";
}

// A new cart or wishlist line, within the basket's bound on lines (kConflict beyond it).
asio::awaitable<Result<StoredLine>> InsertNewLine(Connection& c, Basket basket,
                                                  std::int64_t member_id, std::int64_t product_id,
                                                  std::int64_t quantity, TimePoint now) {
  const std::string table(Table(basket));
  const std::string count_sql = "SELECT count(*) FROM " + table + " WHERE member_id = $1";
  auto count = co_await Count(c, count_sql, member_id);
  if (!count.ok()) co_return std::move(count).error();
  const bool cart = basket == Basket::kCart;
  if (*count >= (cart ? kCartMaxLines : kWishlistMaxItems)) {
    co_return MakeError(
        Errc::kConflict,
        cart ? "the cart holds at most " + std::to_string(kCartMaxLines) + " lines"
             : "the wishlist holds at most " + std::to_string(kWishlistMaxItems) + " products",
        "productId");
  }
  auto line = MakeParams(member_id, product_id, quantity, ToUnixMillis(now), ToUnixMillis(now));
  const std::string insert_sql = "INSERT INTO " + table +
                                 " (member_id, product_id, quantity, added_at_ms, updated_at_ms) "
                                 "VALUES ($1, $2, $3, $4, $5)";
  auto inserted = co_await c.Query(insert_sql, std::move(line));
  if (!inserted.ok()) co_return std::move(inserted).error();
  co_return StoredLine{product_id, quantity, now};
}

// Removes the cart lines of one paid order, except those changed after the payment.
asio::awaitable<Result<std::int64_t>> RemovePurchasedLines(Connection& c,
                                                           const PurchasedLines& order) {
  std::int64_t removed = 0;
  for (std::int64_t product_id : order.product_ids) {
    auto params = MakeParams(order.member_id, product_id, ToUnixMillis(order.paid_at));
    auto rows = co_await c.Query(
        "DELETE FROM cart_items WHERE member_id = $1 AND product_id = $2 AND updated_at_ms <= $3",
        std::move(params));
    if (!rows.ok()) co_return std::move(rows).error();
    removed += rows->affected();
  }
  co_return removed;
}

template <class T>
T RunAtStartUp(asio::awaitable<Result<T>> task) {
  auto result = async::RunToCompletion(std::move(task));
  if (!result.ok()) {
    throw std::runtime_error("catalog: cannot read the PostgreSQL store at start: " +
                             result.error().message);
  }
  return std::move(*result);
}

}  // namespace

asio::awaitable<Status> MigratePostgresCatalog(Connection& connection) {
  auto events = co_await events::postgres_outbox::Migrate(connection);
  if (!events.ok()) co_return events;
  co_return co_await postgres::Migrate(connection, "catalog", kMigrations);
}

// ---- products -------------------------------------------------------------------------------

asio::awaitable<Result<Product>> PostgresProductRepository::Insert(Product product) {
  auto work = [product = std::move(product)](Connection& c) -> asio::awaitable<Result<Product>> {
    Product stored = product;
    auto params = MakeParams(stored.name, stored.description, stored.price, stored.image_url,
                             stored.initial_stock, ToUnixMillis(stored.created_at),
                             ToUnixMillis(stored.updated_at), stored.version);
    auto rows = co_await c.Query(
        "INSERT INTO products (name, description, price, image_url, initial_stock, "
        "created_at_ms, updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "RETURNING id",
        std::move(params));
    if (!rows.ok()) co_return std::move(rows).error();
    stored.id = rows->Int64(0, 0);
    auto published = co_await Publish(c, api::kProductCreated, stored, stored.created_at);
    if (!published.ok()) co_return std::move(published).error();
    co_return stored;
  };
  co_return co_await postgres::Transact<Product>(pool_, std::move(work));
}

asio::awaitable<Result<Product>> PostgresProductRepository::Update(std::int64_t id,
                                                                   ProductChanges changes,
                                                                   TimePoint now) {
  auto work = [id, changes = std::move(changes),
               now](Connection& c) -> asio::awaitable<Result<Product>> {
    auto found = co_await LockProduct(c, id);
    if (!found.ok()) co_return std::move(found).error();
    if (!*found || (*found)->retired) co_return NoSuchProduct();
    Product product = std::move(**found);
    if (!ApplyChanges(product, changes, now)) co_return product;
    auto stored = co_await Store(c, product);
    if (!stored.ok()) co_return std::move(stored).error();
    auto published = co_await Publish(c, api::kProductUpdated, product, now);
    if (!published.ok()) co_return std::move(published).error();
    co_return product;
  };
  co_return co_await postgres::Transact<Product>(pool_, std::move(work));
}

asio::awaitable<Result<Product>> PostgresProductRepository::Retire(std::int64_t id, TimePoint now) {
  auto work = [id, now](Connection& c) -> asio::awaitable<Result<Product>> {
    auto found = co_await LockProduct(c, id);
    if (!found.ok()) co_return std::move(found).error();
    if (!*found || (*found)->retired) co_return NoSuchProduct();
    Product product = std::move(**found);
    product.retired = true;
    product.updated_at = now;
    ++product.version;
    auto stored = co_await Store(c, product);
    if (!stored.ok()) co_return std::move(stored).error();
    // Its cart and wishlist lines go with it, in the same transaction; likes stay (history).
    static constexpr std::string_view kLineTables[] = {"cart_items", "wishlist"};
    for (std::string_view table : kLineTables) {
      auto params = MakeParams(id);
      const std::string sql = "DELETE FROM " + std::string(table) + " WHERE product_id = $1";
      auto removed = co_await c.Query(sql, std::move(params));
      if (!removed.ok()) co_return std::move(removed).error();
    }
    auto published = co_await Publish(c, api::kProductRetired, product, now);
    if (!published.ok()) co_return std::move(published).error();
    co_return product;
  };
  co_return co_await postgres::Transact<Product>(pool_, std::move(work));
}

asio::awaitable<Result<std::optional<Product>>> PostgresProductRepository::Find(std::int64_t id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  static const std::string sql = std::string(kSelectProduct) + " WHERE id = $1";
  auto params = MakeParams(id);
  auto rows = co_await (*lease)->Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::optional<Product> out;
  if (!rows->empty()) out = ReadProduct(*rows, 0);
  co_return out;
}

std::vector<Product> PostgresProductRepository::LoadAll() {
  auto load = [](postgres::Pool& pool) -> asio::awaitable<Result<std::vector<Product>>> {
    auto lease = co_await pool.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    static const std::string sql = std::string(kSelectProduct) + " ORDER BY id";
    auto rows = co_await (*lease)->Query(sql);
    if (!rows.ok()) co_return std::move(rows).error();
    std::vector<Product> out;
    out.reserve(static_cast<std::size_t>(rows->size()));
    for (int i = 0; i < rows->size(); ++i) out.push_back(ReadProduct(*rows, i));
    co_return out;
  };
  return RunAtStartUp(load(pool_));
}

// ---- likes ----------------------------------------------------------------------------------

asio::awaitable<Result<LikeChange>> PostgresShoppingRepository::ChangeLike(std::int64_t member_id,
                                                                           std::int64_t product_id,
                                                                           LikeOp op,
                                                                           TimePoint now) {
  auto work = [member_id, product_id, op,
               now](Connection& c) -> asio::awaitable<Result<LikeChange>> {
    // The product's row lock orders its like changes (and their sequence numbers) and keeps it
    // from being retired meanwhile.
    auto product = co_await LockProduct(c, product_id);
    if (!product.ok()) co_return std::move(product).error();
    if (!*product || (*product)->retired) co_return NoSuchProduct();
    bool like = op == LikeOp::kLike;
    if (op == LikeOp::kToggle) {
      auto params = MakeParams(product_id, member_id);
      auto found = co_await c.Query("SELECT 1 FROM likes WHERE product_id = $1 AND member_id = $2",
                                    std::move(params));
      if (!found.ok()) co_return std::move(found).error();
      like = found->empty();
    }
    std::int64_t delta = 0;
    if (like) {
      auto params = MakeParams(product_id, member_id, ToUnixMillis(now));
      auto added = co_await c.Query(
          "INSERT INTO likes (product_id, member_id, created_at_ms) VALUES ($1, $2, $3) "
          "ON CONFLICT DO NOTHING",
          std::move(params));
      if (!added.ok()) co_return std::move(added).error();
      if (added->affected() == 1) {
        auto count =
            co_await Count(c, "SELECT count(*) FROM likes WHERE member_id = $1", member_id);
        if (!count.ok()) co_return std::move(count).error();
        if (*count > kMaxLikesPerMember) {
          co_return MakeError(
              Errc::kConflict,
              "a member can like at most " + std::to_string(kMaxLikesPerMember) + " products",
              "productId");
        }
        delta = 1;
      }
    } else {
      auto params = MakeParams(product_id, member_id);
      auto removed = co_await c.Query("DELETE FROM likes WHERE product_id = $1 AND member_id = $2",
                                      std::move(params));
      if (!removed.ok()) co_return std::move(removed).error();
      if (removed->affected() == 1) delta = -1;
    }
    auto params = MakeParams(delta, product_id);
    auto counted = co_await c.Query(
        "UPDATE products SET like_count = like_count + $1, like_seq = like_seq + 1 WHERE id = $2 "
        "RETURNING like_count, like_seq",
        std::move(params));
    if (!counted.ok()) co_return std::move(counted).error();
    LikeChange change;
    change.liked = like;
    change.likes = counted->Int64(0, 0);
    change.seq = static_cast<std::uint64_t>(counted->Int64(0, 1));
    // Every committed change is published (see sqlite_shopping_repository.cpp).
    const std::string payload = LikeChangedPayload(member_id, product_id, change);
    auto appended = co_await events::postgres_outbox::Append(c, api::kLikeChanged, payload, now);
    if (!appended.ok()) co_return std::move(appended).error();
    co_return change;
  };
  co_return co_await postgres::Transact<LikeChange>(pool_, std::move(work));
}

LikeSnapshot PostgresShoppingRepository::LoadLikes() {
  auto load = [](postgres::Pool& pool) -> asio::awaitable<Result<LikeSnapshot>> {
    auto lease = co_await pool.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    // One statement, one snapshot: the likes and the counts and sequence numbers they add up to
    // (a product's row comes once per like, or once with no member when it has none).
    auto rows = co_await (*lease)->Query(
        "SELECT p.id, p.like_count, p.like_seq, l.member_id FROM products p "
        "LEFT JOIN likes l ON l.product_id = p.id "
        "WHERE p.like_count > 0 OR p.like_seq > 0 ORDER BY p.id");
    if (!rows.ok()) co_return std::move(rows).error();
    LikeSnapshot out;
    for (int i = 0; i < rows->size(); ++i) {
      const std::int64_t product_id = rows->Int64(i, 0);
      if (out.products.empty() || out.products.back().product_id != product_id) {
        out.products.push_back(ProductLikes{product_id, rows->Int64(i, 1),
                                            static_cast<std::uint64_t>(rows->Int64(i, 2))});
      }
      if (!rows->IsNull(i, 3)) out.likes.emplace_back(rows->Int64(i, 3), product_id);
    }
    co_return out;
  };
  return RunAtStartUp(load(pool_));
}

asio::awaitable<Result<std::vector<Like>>> PostgresShoppingRepository::LikedBy(
    std::int64_t member_id, std::size_t limit) {
  auto params = MakeParams(member_id, static_cast<std::int64_t>(limit));
  auto rows = co_await pool_.Query(
      "SELECT product_id, created_at_ms FROM likes WHERE member_id = $1 "
      "ORDER BY created_at_ms DESC, product_id LIMIT $2",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<Like> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(Like{rows->Int64(i, 0), FromUnixMillis(rows->Int64(i, 1))});
  }
  co_return out;
}

// ---- wishlist and cart ----------------------------------------------------------------------

asio::awaitable<Result<StoredLine>> PostgresShoppingRepository::AddToWishlist(
    std::int64_t member_id, std::int64_t product_id, std::int64_t quantity, TimePoint now) {
  auto work = [member_id, product_id, quantity,
               now](Connection& c) -> asio::awaitable<Result<StoredLine>> {
    auto ready = co_await PrepareLineWrite(c, member_id, product_id);
    if (!ready.ok()) co_return std::move(ready).error();
    auto key = MakeParams(member_id, product_id);
    auto found = co_await c.Query(
        "SELECT quantity, added_at_ms FROM wishlist WHERE member_id = $1 AND product_id = $2",
        std::move(key));
    if (!found.ok()) co_return std::move(found).error();
    if (!found->empty()) {
      StoredLine line{product_id, found->Int64(0, 0), FromUnixMillis(found->Int64(0, 1))};
      const std::int64_t total = line.quantity + quantity;
      if (total > kLineQuantityMax) {
        co_return MakeError(Errc::kValidationFailed,
                            "the wishlist line would hold " + std::to_string(total) + " (at most " +
                                std::to_string(kLineQuantityMax) + ")",
                            "quantity");
      }
      auto params = MakeParams(total, ToUnixMillis(now), member_id, product_id);
      auto updated = co_await c.Query(
          "UPDATE wishlist SET quantity = $1, updated_at_ms = $2 WHERE member_id = $3 AND "
          "product_id = $4",
          std::move(params));
      if (!updated.ok()) co_return std::move(updated).error();
      line.quantity = total;
      co_return line;
    }
    co_return co_await InsertNewLine(c, Basket::kWishlist, member_id, product_id, quantity, now);
  };
  co_return co_await postgres::Transact<StoredLine>(pool_, std::move(work));
}

asio::awaitable<Result<StoredLine>> PostgresShoppingRepository::SetCartLine(std::int64_t member_id,
                                                                            std::int64_t product_id,
                                                                            std::int64_t quantity,
                                                                            TimePoint now) {
  auto work = [member_id, product_id, quantity,
               now](Connection& c) -> asio::awaitable<Result<StoredLine>> {
    auto ready = co_await PrepareLineWrite(c, member_id, product_id);
    if (!ready.ok()) co_return std::move(ready).error();
    // An edited cart is a new cart: its emptiness no longer says "already checked out".
    auto member = MakeParams(member_id);
    auto forgot = co_await c.Query(
        "UPDATE cart_checkouts SET last_order_id = NULL WHERE member_id = $1 AND last_order_id "
        "IS NOT NULL",
        std::move(member));
    if (!forgot.ok()) co_return std::move(forgot).error();
    auto params = MakeParams(quantity, ToUnixMillis(now), member_id, product_id);
    auto updated = co_await c.Query(
        "UPDATE cart_items SET quantity = $1, updated_at_ms = $2 WHERE member_id = $3 AND "
        "product_id = $4 RETURNING added_at_ms",
        std::move(params));
    if (!updated.ok()) co_return std::move(updated).error();
    if (!updated->empty()) {
      co_return StoredLine{product_id, quantity, FromUnixMillis(updated->Int64(0, 0))};
    }
    co_return co_await InsertNewLine(c, Basket::kCart, member_id, product_id, quantity, now);
  };
  co_return co_await postgres::Transact<StoredLine>(pool_, std::move(work));
}

asio::awaitable<Result<std::int64_t>> PostgresShoppingRepository::Remove(
    Basket basket, std::int64_t member_id, std::vector<std::int64_t> product_ids, bool all) {
  auto work = [basket, member_id, product_ids = std::move(product_ids),
               all](Connection& c) -> asio::awaitable<Result<std::int64_t>> {
    const std::string table(Table(basket));
    if (all) {
      auto params = MakeParams(member_id);
      const std::string sql = "DELETE FROM " + table + " WHERE member_id = $1";
      auto removed = co_await c.Query(sql, std::move(params));
      if (!removed.ok()) co_return std::move(removed).error();
      co_return removed->affected();
    }
    std::int64_t removed = 0;
    const std::string sql = "DELETE FROM " + table + " WHERE member_id = $1 AND product_id = $2";
    for (std::int64_t product_id : product_ids) {
      auto params = MakeParams(member_id, product_id);
      auto one = co_await c.Query(sql, std::move(params));
      if (!one.ok()) co_return std::move(one).error();
      removed += one->affected();
    }
    co_return removed;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

asio::awaitable<Result<std::int64_t>> PostgresShoppingRepository::RemovePurchased(
    std::vector<PurchasedLines> orders) {
  auto work = [orders = std::move(orders)](Connection& c) -> asio::awaitable<Result<std::int64_t>> {
    std::int64_t removed = 0;
    for (const PurchasedLines& order : orders) {
      auto one = co_await RemovePurchasedLines(c, order);
      if (!one.ok()) co_return std::move(one).error();
      removed += *one;
    }
    co_return removed;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

asio::awaitable<Result<CartClaim>> PostgresShoppingRepository::ClaimCartCheckout(
    std::int64_t member_id, std::string key, TimePoint now) {
  auto work = [member_id, key = std::move(key),
               now](Connection& c) -> asio::awaitable<Result<CartClaim>> {
    auto locked = co_await LockMemberBasket(c, member_id);
    if (!locked.ok()) co_return std::move(locked).error();
    CartClaim claim;
    auto member = MakeParams(member_id);
    auto found =
        co_await c.Query("SELECT claim_key, last_order_id FROM cart_checkouts WHERE member_id = $1",
                         std::move(member));
    if (!found.ok()) co_return std::move(found).error();
    if (!found->empty()) {
      if (!found->IsNull(0, 0)) {
        claim.kind = CartClaim::Kind::kJoined;
        claim.key = std::string(found->Text(0, 0));
      }
      claim.last_order_id = found->OptInt64(0, 1);
    }
    if (claim.kind == CartClaim::Kind::kJoined) co_return claim;
    auto lines = co_await Count(
        c, "SELECT count(*) FROM (SELECT 1 FROM cart_items WHERE member_id = $1 LIMIT 1) AS one",
        member_id);
    if (!lines.ok()) co_return std::move(lines).error();
    if (*lines == 0) co_return claim;  // kEmpty: nothing to buy, nothing claimed
    auto params = MakeParams(member_id, key, ToUnixMillis(now));
    auto claimed = co_await c.Query(
        "INSERT INTO cart_checkouts (member_id, claim_key, claimed_at_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (member_id) DO UPDATE SET claim_key = $2, claimed_at_ms = $3",
        std::move(params));
    if (!claimed.ok()) co_return std::move(claimed).error();
    claim.kind = CartClaim::Kind::kStarted;
    claim.key = key;
    claim.last_order_id.reset();
    co_return claim;
  };
  co_return co_await postgres::Transact<CartClaim>(pool_, std::move(work));
}

asio::awaitable<Result<std::optional<std::int64_t>>> PostgresShoppingRepository::EndCartCheckout(
    std::int64_t member_id, std::string key, std::optional<CartCheckoutPaid> paid) {
  using Out = std::optional<std::int64_t>;
  auto work = [member_id, key = std::move(key),
               paid = std::move(paid)](Connection& c) -> asio::awaitable<Result<Out>> {
    auto locked = co_await LockMemberBasket(c, member_id);
    if (!locked.ok()) co_return std::move(locked).error();
    auto params = MakeParams(member_id, key);
    auto closed = co_await c.Query(
        "UPDATE cart_checkouts SET claim_key = NULL, claimed_at_ms = NULL "
        "WHERE member_id = $1 AND claim_key = $2",
        std::move(params));
    if (!closed.ok()) co_return std::move(closed).error();
    if (paid) {
      auto removed = co_await RemovePurchasedLines(c, paid->lines);
      if (!removed.ok()) co_return std::move(removed).error();
      // Only the call that closed the claim records its order.
      if (closed->affected() == 1) {
        auto order = MakeParams(paid->order_id, member_id);
        auto recorded = co_await c.Query(
            "UPDATE cart_checkouts SET last_order_id = $1 WHERE member_id = $2", std::move(order));
        if (!recorded.ok()) co_return std::move(recorded).error();
      }
    }
    auto member = MakeParams(member_id);
    auto last = co_await c.Query("SELECT last_order_id FROM cart_checkouts WHERE member_id = $1",
                                 std::move(member));
    if (!last.ok()) co_return std::move(last).error();
    Out out;
    if (!last->empty()) out = last->OptInt64(0, 0);
    co_return out;
  };
  co_return co_await postgres::Transact<Out>(pool_, std::move(work));
}

asio::awaitable<Result<std::vector<StoredLine>>> PostgresShoppingRepository::Lines(
    Basket basket, std::int64_t member_id) {
  const std::string sql = "SELECT product_id, quantity, added_at_ms FROM " +
                          std::string(Table(basket)) +
                          " WHERE member_id = $1 ORDER BY added_at_ms, product_id";
  auto params = MakeParams(member_id);
  auto rows = co_await pool_.Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<StoredLine> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(
        StoredLine{rows->Int64(i, 0), rows->Int64(i, 1), FromUnixMillis(rows->Int64(i, 2))});
  }
  co_return out;
}

}  // namespace rocketmart::catalog

#include "services/catalog/adapters/sqlite_product_repository.hpp"

#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "services/catalog/adapters/event_payloads.hpp"
#include "services/catalog/api/events.hpp"

namespace rocketmart::catalog {
namespace {

constexpr storage::Migration kMigrations[] = {
    {1, "products", R"sql(
      CREATE TABLE products (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT    NOT NULL,
        description   TEXT    NOT NULL,
        price         INTEGER NOT NULL CHECK (price >= 0),
        image_url     TEXT    NOT NULL,
        initial_stock INTEGER NOT NULL CHECK (initial_stock >= 0),
        retired       INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        version       INTEGER NOT NULL
      );
    )sql"},
    // Likes, wishlist and cart (issue 5). One row per (product, member) by primary key, so
    // duplicates are impossible whatever the concurrency; like_count is kept equal to the rows by
    // updating it in the same transaction as the row (see sqlite_shopping_repository.cpp).
    {2, "shopping", R"sql(
      ALTER TABLE products ADD COLUMN like_count INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE likes (
        product_id    INTEGER NOT NULL REFERENCES products(id),
        member_id     INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (product_id, member_id)
      ) WITHOUT ROWID;
      CREATE INDEX likes_by_member ON likes (member_id, product_id);
      CREATE TABLE wishlist (
        member_id     INTEGER NOT NULL,
        product_id    INTEGER NOT NULL REFERENCES products(id),
        quantity      INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        added_at_ms   INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (member_id, product_id)
      ) WITHOUT ROWID;
      CREATE TABLE cart_items (
        member_id     INTEGER NOT NULL,
        product_id    INTEGER NOT NULL REFERENCES products(id),
        quantity      INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
        added_at_ms   INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (member_id, product_id)
      ) WITHOUT ROWID;
    )sql"},
    // Cart checkout (issue 11): the key of a member's open cart checkout, which every concurrent
    // checkout of that cart joins, and the order of the last one that was paid (forgotten when the
    // cart is edited), which names the order when the emptied cart is checked out again.
    {3, "cart checkouts", R"sql(
      CREATE TABLE cart_checkouts (
        member_id     INTEGER PRIMARY KEY,
        claim_key     TEXT,
        claimed_at_ms INTEGER,
        last_order_id INTEGER
      );
    )sql"},
    // Like sequence numbers (issue 12): taken from the product's row in the like's transaction,
    // so they order a product's like changes across every instance on this database (they were
    // counted in one process's memory).
    {4, "like sequence", R"sql(
      ALTER TABLE products ADD COLUMN like_seq INTEGER NOT NULL DEFAULT 0;
    )sql"},
};

constexpr std::string_view kSelectColumns =
    "SELECT id, name, description, price, image_url, initial_stock, retired, created_at_ms, "
    "updated_at_ms, version FROM products";

Product ReadProduct(const storage::Statement& s) {
  Product p;
  p.id = s.Int64(0);
  p.name = s.Text(1);
  p.description = s.Text(2);
  p.price = s.Int64(3);
  p.image_url = s.Text(4);
  p.initial_stock = s.Int64(5);
  p.retired = s.Int64(6) != 0;
  p.created_at = FromUnixMillis(s.Int64(7));
  p.updated_at = FromUnixMillis(s.Int64(8));
  p.version = s.Int64(9);
  return p;
}

std::optional<Product> FindStored(storage::Database& db, std::int64_t id) {
  static const std::string sql = std::string(kSelectColumns) + " WHERE id = ?";
  auto& stmt = db.Cached(sql);
  stmt.BindInt64(1, id);
  std::optional<Product> out;
  if (stmt.Step()) out = ReadProduct(stmt);
  stmt.Reset();
  return out;
}

void Store(storage::Database& db, const Product& p) {
  auto& stmt = db.Cached(
      "UPDATE products SET name = ?, description = ?, price = ?, image_url = ?, retired = ?, "
      "updated_at_ms = ?, version = ? WHERE id = ?");
  stmt.BindText(1, p.name)
      .BindText(2, p.description)
      .BindInt64(3, p.price)
      .BindText(4, p.image_url)
      .BindInt64(5, p.retired ? 1 : 0)
      .BindInt64(6, ToUnixMillis(p.updated_at))
      .BindInt64(7, p.version)
      .BindInt64(8, p.id);
  stmt.Step();
  stmt.Reset();
}

}  // namespace

std::span<const storage::Migration> CatalogMigrations() {
  return kMigrations;
}

boost::asio::awaitable<Result<Product>> SqliteProductRepository::Insert(Product product) {
  auto job = [product = std::move(product)](storage::Database& db) mutable -> Result<Product> {
    auto& stmt = db.Cached(
        "INSERT INTO products (name, description, price, image_url, initial_stock, retired, "
        "created_at_ms, updated_at_ms, version) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)");
    stmt.BindText(1, product.name)
        .BindText(2, product.description)
        .BindInt64(3, product.price)
        .BindText(4, product.image_url)
        .BindInt64(5, product.initial_stock)
        .BindInt64(6, ToUnixMillis(product.created_at))
        .BindInt64(7, ToUnixMillis(product.updated_at))
        .BindInt64(8, product.version);
    stmt.Step();
    stmt.Reset();
    product.id = db.LastInsertRowId();
    events::sqlite_outbox::Append(db, api::kProductCreated, ProductEventPayload(product),
                                  product.created_at);
    return product;
  };
  co_return co_await async::Write<Product>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Product>> SqliteProductRepository::Update(std::int64_t id,
                                                                        ProductChanges changes,
                                                                        TimePoint now) {
  auto job = [id, changes = std::move(changes), now](storage::Database& db) -> Result<Product> {
    auto product = FindStored(db, id);
    if (!product || product->retired) return MakeError(Errc::kNotFound, "no such product");
    if (!ApplyChanges(*product, changes, now)) return *product;
    Store(db, *product);
    events::sqlite_outbox::Append(db, api::kProductUpdated, ProductEventPayload(*product), now);
    return *product;
  };
  co_return co_await async::Write<Product>(writer_, std::move(job));
}

boost::asio::awaitable<Result<Product>> SqliteProductRepository::Retire(std::int64_t id,
                                                                        TimePoint now) {
  auto job = [id, now](storage::Database& db) -> Result<Product> {
    auto product = FindStored(db, id);
    if (!product || product->retired) return MakeError(Errc::kNotFound, "no such product");
    product->retired = true;
    product->updated_at = now;
    ++product->version;
    Store(db, *product);
    // A retired product can no longer be bought: its cart and wishlist lines go with it, in the
    // same transaction. Likes stay (history; they no longer show anywhere).
    db.Cached("DELETE FROM cart_items WHERE product_id = ?").BindInt64(1, id).Step();
    db.Cached("DELETE FROM wishlist WHERE product_id = ?").BindInt64(1, id).Step();
    events::sqlite_outbox::Append(db, api::kProductRetired, ProductEventPayload(*product), now);
    return *product;
  };
  co_return co_await async::Write<Product>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::optional<Product>>> SqliteProductRepository::Find(
    std::int64_t id) {
  // On the writer: a miss is rare (embedded, the one instance wrote every product it serves).
  auto job = [id](storage::Database& db) -> Result<std::optional<Product>> {
    return FindStored(db, id);
  };
  co_return co_await async::Write<std::optional<Product>>(writer_, std::move(job));
}

std::vector<Product> SqliteProductRepository::LoadAll() {
  std::vector<Product> out;
  writer_.RunSync([&out](storage::Database& db) {
    auto stmt = db.Prepare(std::string(kSelectColumns) + " ORDER BY id");
    while (stmt.Step()) out.push_back(ReadProduct(stmt));
  });
  return out;
}

}  // namespace rocketmart::catalog

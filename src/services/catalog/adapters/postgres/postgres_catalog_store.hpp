// The catalog's storage ports on PostgreSQL (issue 13): ProductRepository, LikeRepository and
// BasketRepository over one pool on the catalog's own database, which also holds its event outbox
// (events/postgres_outbox: each change appends its event in the same transaction).
//
// Every write is one transaction (postgres::Transact: a deadlock or serialization failure is
// retried, any error rolls everything back). Read-modify-writes lock what they read: a product's
// row (FOR UPDATE) for its updates and like changes (so a product's like_seq orders its changes in
// commit order across instances), the row FOR SHARE while a cart or wishlist line is written (so
// a line can never point at a product retired concurrently: Retire waits, then removes it), and a
// transaction-scoped advisory lock per member around a member's basket writes (the bounds on
// lines, and the cart checkout claim). Reads take no lock (READ COMMITTED: the latest commit).
// Several instances (processes, pools) may share the database. The start-up loads block the
// calling thread (start-up only, as the port says).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/shopping_repository.hpp"

namespace rocketmart::catalog {

// Creates or updates the catalog's tables (and its event tables) under the migration lock.
boost::asio::awaitable<Status> MigratePostgresCatalog(postgres::Connection& connection);

class PostgresProductRepository final : public ProductRepository {
 public:
  explicit PostgresProductRepository(postgres::Pool& pool) : pool_(pool) {}

  boost::asio::awaitable<Result<Product>> Insert(Product product) override;
  boost::asio::awaitable<Result<Product>> Update(std::int64_t id, ProductChanges changes,
                                                 TimePoint now) override;
  boost::asio::awaitable<Result<Product>> Retire(std::int64_t id, TimePoint now) override;
  std::vector<Product> LoadAll() override;
  boost::asio::awaitable<Result<std::optional<Product>>> Find(std::int64_t id) override;

 private:
  postgres::Pool& pool_;
};

class PostgresShoppingRepository final : public LikeRepository, public BasketRepository {
 public:
  explicit PostgresShoppingRepository(postgres::Pool& pool) : pool_(pool) {}

  boost::asio::awaitable<Result<LikeChange>> ChangeLike(std::int64_t member_id,
                                                        std::int64_t product_id, LikeOp op,
                                                        TimePoint now) override;
  boost::asio::awaitable<Result<std::vector<Like>>> LikedBy(std::int64_t member_id,
                                                            std::size_t limit) override;
  LikeSnapshot LoadLikes() override;

  boost::asio::awaitable<Result<StoredLine>> AddToWishlist(std::int64_t member_id,
                                                           std::int64_t product_id,
                                                           std::int64_t quantity,
                                                           TimePoint now) override;
  boost::asio::awaitable<Result<StoredLine>> SetCartLine(std::int64_t member_id,
                                                         std::int64_t product_id,
                                                         std::int64_t quantity,
                                                         TimePoint now) override;
  boost::asio::awaitable<Result<std::int64_t>> Remove(Basket basket, std::int64_t member_id,
                                                      std::vector<std::int64_t> product_ids,
                                                      bool all) override;
  boost::asio::awaitable<Result<std::int64_t>> RemovePurchased(
      std::vector<PurchasedLines> orders) override;
  boost::asio::awaitable<Result<std::vector<StoredLine>>> Lines(Basket basket,
                                                                std::int64_t member_id) override;
  boost::asio::awaitable<Result<CartClaim>> ClaimCartCheckout(std::int64_t member_id,
                                                              std::string key,
                                                              TimePoint now) override;
  boost::asio::awaitable<Result<std::optional<std::int64_t>>> EndCartCheckout(
      std::int64_t member_id, std::string key, std::optional<CartCheckoutPaid> paid) override;

 private:
  postgres::Pool& pool_;
};

}  // namespace rocketmart::catalog

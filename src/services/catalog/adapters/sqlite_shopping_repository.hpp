// Likes, wishlist and cart on the catalog's own SQLite database (tables from CatalogMigrations()
// version 2). Writes are jobs on the group-commit writer; reads of one member's lines use the
// calling thread's read-only connection (WAL: they never wait for the writer and see the latest
// commit, so a member reads their own write once it was answered).
//
// Thread-safety: all methods may be called from any thread. Several instances (processes) may
// share one database file: their writes serialize on SQLite's write lock, and a like's sequence
// number is kept with the product (products.like_seq), so it orders changes across them.
#pragma once

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/ports/shopping_repository.hpp"

namespace rocketmart::catalog {

class SqliteShoppingRepository final : public LikeRepository, public BasketRepository {
 public:
  SqliteShoppingRepository(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

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
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

}  // namespace rocketmart::catalog

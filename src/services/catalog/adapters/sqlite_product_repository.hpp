// ProductRepository on the catalog's own SQLite database. Every write is one job on the
// group-commit writer and appends its outbox event in the same transaction.
#pragma once

#include <span>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "services/catalog/ports/product_repository.hpp"

namespace rocketmart::catalog {

// The catalog schema, applied at start.
std::span<const storage::Migration> CatalogMigrations();

class SqliteProductRepository final : public ProductRepository {
 public:
  explicit SqliteProductRepository(storage::GroupCommitWriter& writer) : writer_(writer) {}

  boost::asio::awaitable<Result<Product>> Insert(Product product) override;
  boost::asio::awaitable<Result<Product>> Update(std::int64_t id, ProductChanges changes,
                                                 TimePoint now) override;
  boost::asio::awaitable<Result<Product>> Retire(std::int64_t id, TimePoint now) override;
  std::vector<Product> LoadAll() override;
  boost::asio::awaitable<Result<std::optional<Product>>> Find(std::int64_t id) override;

 private:
  storage::GroupCommitWriter& writer_;
};

}  // namespace rocketmart::catalog

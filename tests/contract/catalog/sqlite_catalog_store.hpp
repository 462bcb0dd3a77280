// The SQLite adapters of the catalog's storage ports for the contract suites: one database file in
// a temporary directory; each instance has its own group-commit writer and reader connections on
// it, as a second server process on the same data directory would (their writes serialize on
// SQLite's write lock).
#pragma once

#include "contract/catalog/catalog_store.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::catalog::contract {

class SqliteCatalogInstance final : public CatalogStoreInstance {
 public:
  explicit SqliteCatalogInstance(const std::string& path) {
    storage::OpenOptions open;
    open.path = path;
    writer_ = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer_->Connection(), CatalogMigrations());
    writer_->Start();
    readers_ = std::make_unique<storage::ReadConnections>(open);
    products_ = std::make_unique<SqliteProductRepository>(*writer_);
    shopping_ = std::make_unique<SqliteShoppingRepository>(*writer_, *readers_);
  }
  ~SqliteCatalogInstance() override { writer_->Stop(); }

  ProductRepository& products() override { return *products_; }
  LikeRepository& likes() override { return *shopping_; }
  BasketRepository& baskets() override { return *shopping_; }

 private:
  std::unique_ptr<storage::GroupCommitWriter> writer_;
  std::unique_ptr<storage::ReadConnections> readers_;
  std::unique_ptr<SqliteProductRepository> products_;
  std::unique_ptr<SqliteShoppingRepository> shopping_;
};

class SqliteCatalogStore final : public CatalogStore {
 public:
  SqliteCatalogStore() : first_(Path()) {}

  ProductRepository& products() override { return first_.products(); }
  LikeRepository& likes() override { return first_.likes(); }
  BasketRepository& baskets() override { return first_.baskets(); }
  std::unique_ptr<CatalogStoreInstance> OpenInstance() override {
    return std::make_unique<SqliteCatalogInstance>(Path());
  }

 private:
  std::string Path() const { return dir_.File("catalog.db"); }

  rocketmart::testing::TempDir dir_{"contract"};  // before first_: created first, removed last
  SqliteCatalogInstance first_;
};

inline std::unique_ptr<CatalogStore> MakeSqliteCatalogStore() {
  return std::make_unique<SqliteCatalogStore>();
}

}  // namespace rocketmart::catalog::contract

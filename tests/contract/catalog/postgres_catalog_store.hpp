// The PostgreSQL adapters of the catalog's storage ports for the contract suites: a fresh database
// per test on the test binary's own PostgreSQL (tests/support/local_postgres.hpp), migrated once;
// each instance has its own connection pool over it, as a second catalog process would.
#pragma once

#include "contract/catalog/catalog_store.hpp"
#include "infra/postgres/pool.hpp"
#include "services/catalog/adapters/postgres/postgres_catalog_store.hpp"
#include "support/postgres_database.hpp"

namespace rocketmart::catalog::contract {

class PostgresCatalogInstance final : public CatalogStoreInstance {
 public:
  explicit PostgresCatalogInstance(const std::string& conninfo)
      : pool_(rocketmart::testing::InstancePool(conninfo)), products_(pool_), shopping_(pool_) {}

  ProductRepository& products() override { return products_; }
  LikeRepository& likes() override { return shopping_; }
  BasketRepository& baskets() override { return shopping_; }

 private:
  postgres::Pool pool_;
  PostgresProductRepository products_;
  PostgresShoppingRepository shopping_;
};

class PostgresCatalogStore final : public CatalogStore {
 public:
  PostgresCatalogStore()
      : conninfo_(rocketmart::testing::NewMigratedDatabase("catalog", &MigratePostgresCatalog)),
        first_(conninfo_) {}

  ProductRepository& products() override { return first_.products(); }
  LikeRepository& likes() override { return first_.likes(); }
  BasketRepository& baskets() override { return first_.baskets(); }
  std::unique_ptr<CatalogStoreInstance> OpenInstance() override {
    return std::make_unique<PostgresCatalogInstance>(conninfo_);
  }

 private:
  std::string conninfo_;
  PostgresCatalogInstance first_;
};

inline std::unique_ptr<CatalogStore> MakePostgresCatalogStore() {
  return std::make_unique<PostgresCatalogStore>();
}

}  // namespace rocketmart::catalog::contract

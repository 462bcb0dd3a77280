// The PostgreSQL adapters of the catalog's storage ports for the contract suites: a fresh database
// per test on the test binary's own PostgreSQL (tests/support/local_postgres.hpp), migrated once;
// each instance has its own connection pool over it, as a second catalog process would.
#pragma once

#include "contract/catalog/catalog_store.hpp"
#include "infra/postgres/pool.hpp"
#include "services/catalog/adapters/postgres/postgres_catalog_store.hpp"
#include "support/local_postgres.hpp"
#include "support/run_await.hpp"

namespace rocketmart::catalog::contract {

class PostgresCatalogInstance final : public CatalogStoreInstance {
 public:
  explicit PostgresCatalogInstance(const std::string& conninfo)
      : pool_(Settings(conninfo)), products_(pool_), shopping_(pool_) {}

  ProductRepository& products() override { return products_; }
  LikeRepository& likes() override { return shopping_; }
  BasketRepository& baskets() override { return shopping_; }

 private:
  static postgres::PoolSettings Settings(const std::string& conninfo) {
    postgres::PoolSettings s;
    s.connect.conninfo = conninfo;
    s.size = 8;
    return s;
  }
  postgres::Pool pool_;
  PostgresProductRepository products_;
  PostgresShoppingRepository shopping_;
};

class PostgresCatalogStore final : public CatalogStore {
 public:
  PostgresCatalogStore() : conninfo_(NewMigratedDatabase()), first_(conninfo_) {}

  ProductRepository& products() override { return first_.products(); }
  LikeRepository& likes() override { return first_.likes(); }
  BasketRepository& baskets() override { return first_.baskets(); }
  std::unique_ptr<CatalogStoreInstance> OpenInstance() override {
    return std::make_unique<PostgresCatalogInstance>(conninfo_);
  }

 private:
  static std::string NewMigratedDatabase() {
    auto& server = rocketmart::testing::SharedLocalPostgres();
    const std::string conninfo = server.ConnectionString(server.NewDatabase("catalog"));
    postgres::PoolSettings settings;
    settings.connect.conninfo = conninfo;
    settings.size = 1;
    postgres::Pool pool(settings);
    auto migrate = [](postgres::Pool& pool) -> boost::asio::awaitable<Status> {
      auto lease = co_await pool.Acquire();
      if (!lease.ok()) co_return std::move(lease).error();
      co_return co_await MigratePostgresCatalog(**lease);
    };
    const Status migrated = rocketmart::testing::RunAwait(migrate(pool));
    if (!migrated.ok()) throw std::runtime_error("catalog migrations failed");
    return conninfo;
  }

  std::string conninfo_;
  PostgresCatalogInstance first_;
};

inline std::unique_ptr<CatalogStore> MakePostgresCatalogStore() {
  return std::make_unique<PostgresCatalogStore>();
}

}  // namespace rocketmart::catalog::contract

// ProductRepository contract, SQLite adapter.
#include "contract/catalog/product_repository_contract.hpp"
#include "contract/catalog/sqlite_catalog_store.hpp"

namespace rocketmart::catalog::contract {

INSTANTIATE_TEST_SUITE_P(Sqlite, ProductRepositoryContract,
                         ::testing::Values(&MakeSqliteCatalogStore));

}  // namespace rocketmart::catalog::contract

// BasketRepository contract, SQLite adapter.
#include "contract/catalog/basket_repository_contract.hpp"
#include "contract/catalog/sqlite_catalog_store.hpp"

namespace rocketmart::catalog::contract {

INSTANTIATE_TEST_SUITE_P(Sqlite, BasketRepositoryContract,
                         ::testing::Values(&MakeSqliteCatalogStore));

}  // namespace rocketmart::catalog::contract

// BasketRepository contract, PostgreSQL adapter (a real PostgreSQL 15 started by the test binary).
#include "contract/catalog/basket_repository_contract.hpp"
#include "contract/catalog/postgres_catalog_store.hpp"

namespace rocketmart::catalog::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, BasketRepositoryContract,
                         ::testing::Values(&MakePostgresCatalogStore));

}  // namespace rocketmart::catalog::contract

// ProductRepository contract, PostgreSQL adapter (a real PostgreSQL 15 started by the test binary).
#include "contract/catalog/postgres_catalog_store.hpp"
#include "contract/catalog/product_repository_contract.hpp"

namespace rocketmart::catalog::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, ProductRepositoryContract,
                         ::testing::Values(&MakePostgresCatalogStore));

}  // namespace rocketmart::catalog::contract

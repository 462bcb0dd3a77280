// The StockStore and SaleStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores).
#include "contract/checkout/postgres_checkout_stores.hpp"
#include "contract/checkout/stock_store_contract.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, StockStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

}  // namespace rocketmart::checkout::contract

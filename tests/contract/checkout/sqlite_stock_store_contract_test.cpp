// The StockStore contract for the SQLite adapter
// (services/checkout/adapters/sqlite_checkout_stores).
#include "contract/checkout/sqlite_checkout_stores.hpp"
#include "contract/checkout/stock_store_contract.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Sqlite, StockStoreContract, ::testing::Values(&MakeSqliteCheckoutStores));

}  // namespace rocketmart::checkout::contract

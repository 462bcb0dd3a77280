// The HoldStore contract for the SQLite adapter
// (services/checkout/adapters/sqlite_checkout_stores).
#include "contract/checkout/hold_store_contract.hpp"
#include "contract/checkout/sqlite_checkout_stores.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Sqlite, HoldStoreContract, ::testing::Values(&MakeSqliteCheckoutStores));

}  // namespace rocketmart::checkout::contract

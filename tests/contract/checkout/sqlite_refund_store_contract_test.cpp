// The RefundStore contract for the SQLite adapter
// (services/checkout/adapters/sqlite_checkout_stores).
#include "contract/checkout/refund_store_contract.hpp"
#include "contract/checkout/sqlite_checkout_stores.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Sqlite, RefundStoreContract, ::testing::Values(&MakeSqliteCheckoutStores));

}  // namespace rocketmart::checkout::contract

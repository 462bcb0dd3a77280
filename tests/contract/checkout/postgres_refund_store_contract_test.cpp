// The RefundStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores).
#include "contract/checkout/postgres_checkout_stores.hpp"
#include "contract/checkout/refund_store_contract.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, RefundStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

}  // namespace rocketmart::checkout::contract

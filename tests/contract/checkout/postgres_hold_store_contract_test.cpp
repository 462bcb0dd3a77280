// The HoldStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores).
#include "contract/checkout/hold_store_contract.hpp"
#include "contract/checkout/postgres_checkout_stores.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, HoldStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

}  // namespace rocketmart::checkout::contract

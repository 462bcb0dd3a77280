// The IdempotencyStore contract for the PostgreSQL adapter
// (services/checkout/adapters/postgres/postgres_checkout_stores).
#include "contract/checkout/idempotency_store_contract.hpp"
#include "contract/checkout/postgres_checkout_stores.hpp"

namespace rocketmart::checkout::contract {

INSTANTIATE_TEST_SUITE_P(Postgres, IdempotencyStoreContract,
                         ::testing::Values(&MakePostgresCheckoutStores));

}  // namespace rocketmart::checkout::contract

// The event bus contract for the in-process bus over PostgreSQL outboxes (OutboxEventBus over
// PostgresOutboxSource / PostgresConsumerStore), storage in postgres_event_harness.hpp.
#include "contract/events/postgres_event_harness.hpp"

namespace rocketmart::events::contract {
namespace {

std::unique_ptr<EventBusHarness> OpenPostgresEventBus(const std::filesystem::path& dir) {
  return std::make_unique<PostgresHarness>(PostgresDatabases(dir));
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, EventBusContract, ::testing::Values(&OpenPostgresEventBus));

}  // namespace rocketmart::events::contract

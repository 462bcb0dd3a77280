// The event bus contract for the Redis Streams bus over PostgreSQL outboxes: the producer's
// PostgreSQL outbox stays the source of truth and the consumer keeps its claims and dead letters
// in its PostgreSQL database (postgres_event_harness.hpp); the bus relays the outbox to a stream on
// one real redis-server (redis_streams_bus.hpp).
#include "contract/events/postgres_event_harness.hpp"
#include "contract/events/redis_streams_bus.hpp"

namespace rocketmart::events::contract {
namespace {

class RedisStreamsPostgresHarness final : public PostgresHarness {
 public:
  explicit RedisStreamsPostgresHarness(const std::filesystem::path& dir)
      : PostgresHarness(PostgresDatabases(dir)), dir_(dir) {}

  std::unique_ptr<EventBus> NewBus() override {
    return NewRedisStreamsBus(dir_, clock_, RetryBackoff(), producer_outbox_, consumer_store_);
  }

 private:
  const std::filesystem::path dir_;
};

std::unique_ptr<EventBusHarness> OpenRedisStreamsPostgresEventBus(
    const std::filesystem::path& dir) {
  return std::make_unique<RedisStreamsPostgresHarness>(dir);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(RedisStreamsOnPostgres, EventBusContract,
                         ::testing::Values(&OpenRedisStreamsPostgresEventBus));

}  // namespace rocketmart::events::contract

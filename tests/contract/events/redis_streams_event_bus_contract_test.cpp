// The event bus contract for the Redis Streams bus: the SQLite outbox of the producer stays the
// source of truth and the consumer keeps its claims and dead letters (sqlite_event_harness.hpp);
// the bus relays the outbox to a stream on one real redis-server (redis_streams_bus.hpp).
#include "contract/events/redis_streams_bus.hpp"
#include "contract/events/sqlite_event_harness.hpp"
#include "infra/events/redis_streams/sqlite_stores.hpp"

namespace rocketmart::events::contract {
namespace {

class RedisStreamsHarness final : public SqliteHarness {
 public:
  explicit RedisStreamsHarness(const std::filesystem::path& dir)
      : SqliteHarness(dir),
        dir_(dir),
        outbox_(kProducer, producer_.writer, producer_.readers),
        consumer_store_(kConsumer, consumer_.writer, consumer_.readers) {}

  std::unique_ptr<EventBus> NewBus() override {
    return NewRedisStreamsBus(dir_, clock_, RetryBackoff(), outbox_, consumer_store_);
  }

 private:
  const std::filesystem::path dir_;
  redis_streams::SqliteOutboxSource outbox_;
  redis_streams::SqliteConsumerStore consumer_store_;
};

std::unique_ptr<EventBusHarness> OpenRedisStreamsEventBus(const std::filesystem::path& dir) {
  return std::make_unique<RedisStreamsHarness>(dir);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(RedisStreams, EventBusContract,
                         ::testing::Values(&OpenRedisStreamsEventBus));

}  // namespace rocketmart::events::contract

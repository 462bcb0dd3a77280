// The event bus contract for the Redis Streams bus: the SQLite outbox of the producer stays the
// source of truth and the consumer keeps its claims and dead letters (sqlite_event_harness.hpp);
// the bus relays the outbox to a stream on one real redis-server for the test process
// (tests/support/local_redis.*), under a key prefix named after the test's directory, so the
// crash clause's child (same directory) sees the same stream and groups.
#include "contract/events/sqlite_event_harness.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/redis_streams/sqlite_stores.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::events::contract {
namespace {

class RedisStreamsHarness final : public SqliteHarness {
 public:
  explicit RedisStreamsHarness(const std::filesystem::path& dir)
      : SqliteHarness(dir),
        prefix_(dir.filename().string() + ":"),
        outbox_(kProducer, producer_.writer, producer_.readers),
        consumer_store_(kConsumer, consumer_.writer, consumer_.readers) {}

  std::unique_ptr<EventBus> NewBus() override {
    const auto& server = rocketmart::testing::SharedLocalRedis();
    auto bus = std::make_unique<redis_streams::RedisStreamsEventBus>(
        redis::ParseEndpoint(server.unix_url()).value(), clock_,
        redis_streams::RedisStreamsEventBusOptions{
            .key_prefix = prefix_,
            .poll_interval = std::chrono::milliseconds(50),
            .block = std::chrono::milliseconds(200),
            .claim_idle = std::chrono::milliseconds(300),  // a killed child's entries
            .claim_interval = std::chrono::milliseconds(100),
            .retry_backoff_initial = RetryBackoff(),
            .retry_backoff_max = RetryBackoff() * 4,
            .housekeeping_interval = std::chrono::milliseconds(50),
            .trim_keep = 0,
        });
    bus->AddProducer(outbox_);
    bus->AddConsumer(consumer_store_);
    return bus;
  }

 private:
  const std::string prefix_;
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

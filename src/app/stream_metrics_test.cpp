// The Redis Streams bus's per-subscription metrics as a composition root registers them
// (RegisterStreamSubscriptionMetrics), read from the process's metrics registry, against a real
// redis-server (tests/support/local_redis.*) and a consumer's SQLite store.
#include <gtest/gtest.h>

#include <string>

#include "app/startup.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "support/local_redis.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::app {
namespace {

using namespace std::chrono_literals;

// Sets aside every event it is handed, as a subscriber does with one it cannot read.
class Rejecting final : public events::EventSubscriber {
 public:
  std::string_view Name() const override { return "order-paid"; }
  void Handle(std::span<const events::Event> batch) override {
    throw events::MalformedEvent(batch.front().id, "unreadable payload");
  }
};

// Issue 15: the orders process consumes checkout's stream, which checkout's process relays; what
// orders sets aside from it shows in orders' /metrics, by source stream and consumer group.
TEST(StreamMetrics, DeadLettersSetAsideFromAnotherServicesStreamAreCountedByTheConsumer) {
  testing::LocalRedis server;
  testing::TempDir dir{"stream-metrics"};
  const std::string path = (dir.path() / "orders.db").string();
  storage::GroupCommitWriter writer(storage::OpenOptions{.path = path});
  storage::ReadConnections readers(storage::OpenOptions{.path = path});
  storage::Migrate(writer.Connection(), {});
  writer.Start();
  {
    events::sqlite_outbox::SqliteConsumerStore store("orders", writer, readers);
    SystemClock clock;
    events::redis_streams::RedisStreamsEventBus bus(
        redis::ParseEndpoint(server.unix_url()).value(), clock,
        {.instance = "orders@host:1", .block = 200ms, .retry_backoff_initial = 20ms});
    bus.AddSource("checkout");  // relayed by checkout's process, not this one
    bus.AddConsumer(store);
    Rejecting rejecting;
    const events::Subscription subscription{
        "checkout", {"order.paid"}, "orders", events::Delivery::kEffect, &rejecting};
    metrics::Registry registry;
    RegisterStreamSubscriptionMetrics(registry, bus, subscription);
    bus.Subscribe(subscription);
    bus.Start();
    // Checkout's relay publishes an entry orders cannot read.
    server.Command(
        {"XADD", "events:checkout", "1-0", "topic", "order.paid", "payload", "{", "at", "0"});
    const std::string series =
        "events_stream_dead_letters_total{source=\"checkout\",subscriber=\"order-paid\"} ";
    auto value = [&]() -> std::string {
      const std::string text = registry.RenderPrometheus();
      const auto at = text.find(series);
      if (at == std::string::npos) return "(no series)";
      return text.substr(at + series.size(), text.find('\n', at) - at - series.size());
    };
    EXPECT_TRUE(rocketmart::testing::WaitUntil([&] { return value() == "1"; }, 10s)) << value();
    EXPECT_EQ(bus.DeadLetters("orders").size(), 1u);
    bus.Stop();
    const std::string text = registry.RenderPrometheus();
    EXPECT_NE(text.find("# TYPE events_stream_dead_letters_total counter"), std::string::npos)
        << text;
  }
  writer.Stop();
}

}  // namespace
}  // namespace rocketmart::app

// The Redis Streams bus under the failures of issue 14's battery, each against a redis-server of
// its own (tests/support/local_redis.*) and the SQLite outbox of a producer and the claims of a
// consumer (the source of truth and the effect's store, as in production):
//  - C6: instances of a consumer "killed" after their effect committed and before the ack. In
//    process: the victim's Handle commits, then throws, and its bus is stopped at once (a stop
//    during the retry backoff leaves the batch unacknowledged, as a dead process would), so the
//    entries stay pending under the victim's consumer name until another instance takes them
//    over (XAUTOCLAIM).
//  - D6 (sized down): Redis down while events are appended: the outbox grows, and once Redis is
//    back everything is delivered, none lost, none applied twice.
//  - C7: Redis loses entries it had acknowledged to the relay (kill -9 and restart without AOF;
//    FLUSHALL): the relay publishes again from the outbox, every event still applied once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/redis_streams/sqlite_stores.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "support/local_redis.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::events::redis_streams {
namespace {

using namespace std::chrono_literals;
using rocketmart::testing::LocalRedis;
using rocketmart::testing::WaitUntil;

constexpr storage::Migration kEffects{
    1, "effects", "CREATE TABLE effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT)"};

struct Db {
  explicit Db(const std::filesystem::path& path)
      : writer(storage::OpenOptions{.path = path.string()}),
        readers(storage::OpenOptions{.path = path.string()}) {}
  storage::GroupCommitWriter writer;
  storage::ReadConnections readers;
};

// A producer and a consumer database, and a bus factory over one redis-server.
class World {
 public:
  explicit World(LocalRedis& server)
      : server_(server), producer_(dir_.path() / "producer.db"), consumer_(dir_.path() / "c.db") {
    storage::Migrate(producer_.writer.Connection(), {});
    storage::Migrate(consumer_.writer.Connection(), std::vector<storage::Migration>{kEffects});
    producer_.writer.Start();
    consumer_.writer.Start();
  }
  ~World() {
    producer_.writer.Stop();
    consumer_.writer.Stop();
  }

  // A bus relaying the producer (when `relay`) and consuming for "consumer".
  std::unique_ptr<RedisStreamsEventBus> NewBus(std::string instance, bool relay = true,
                                               std::size_t batch = 100, Millis claim_idle = 200ms,
                                               int max_deliveries = 1000) {
    auto bus = std::make_unique<RedisStreamsEventBus>(
        redis::ParseEndpoint(server_.unix_url()).value(), clock_,
        RedisStreamsEventBusOptions{.instance = std::move(instance),
                                    .batch = batch,
                                    .poll_interval = 50ms,
                                    .block = 200ms,
                                    .claim_idle = claim_idle,
                                    .claim_interval = 50ms,
                                    .max_deliveries = max_deliveries,
                                    .retry_backoff_initial = 20ms,
                                    .retry_backoff_max = 200ms,
                                    .housekeeping_interval = 50ms,
                                    .trim_keep = 0});
    if (relay) {
      bus->AddProducer(outbox_);
    } else {
      bus->AddSource("producer");
    }
    bus->AddConsumer(store_);
    return bus;
  }

  void Publish(int from, int to) {
    for (int i = from; i < to; ++i) {
      producer_.writer.RunSync([&](storage::Database& db) {
        sqlite_outbox::Append(db, "t", "p" + std::to_string(i), clock_.Now());
      });
    }
  }
  // The effect, one transaction per batch: each event claimed, its effect recorded unless it was.
  void Apply(std::span<const Event> batch) {
    consumer_.writer.RunSync([&](storage::Database& db) {
      for (const Event& e : batch) {
        if (!sqlite_outbox::ClaimEvent(db, "effects", e.id, clock_.Now())) continue;
        db.Cached("INSERT INTO effects (payload) VALUES (?1)").BindText(1, e.payload).Step();
      }
    });
  }
  // payload -> how many times its effect was recorded.
  std::map<std::string, int> Effects() {
    std::map<std::string, int> out;
    storage::Statement s = consumer_.readers.ForThisThread().Prepare(
        "SELECT payload, count(*) FROM effects GROUP BY 1");
    while (s.Step()) out[s.Text(0)] = static_cast<int>(s.Int64(1));
    return out;
  }
  bool AllAppliedOnce(int count) {
    const auto effects = Effects();
    if (static_cast<int>(effects.size()) != count) return false;
    for (int i = 0; i < count; ++i) {
      const auto it = effects.find("p" + std::to_string(i));
      if (it == effects.end() || it->second != 1) return false;
    }
    return true;
  }
  std::int64_t OutboxRows() {
    storage::Statement s = producer_.readers.ForThisThread().Prepare("SELECT count(*) FROM outbox");
    s.Step();
    return s.Int64(0);
  }

 private:
  LocalRedis& server_;
  rocketmart::testing::TempDir dir_{"redis-streams"};
  SystemClock clock_;
  Db producer_;
  Db consumer_;
  SqliteOutboxSource outbox_{"producer", producer_.writer, producer_.readers};
  SqliteConsumerStore store_{"consumer", consumer_.writer, consumer_.readers};
};

Subscription EffectOn(EventSubscriber& s) {
  return Subscription{"producer", {"t"}, "consumer", Delivery::kEffect, &s};
}

// Applies every batch through the world's effect and counts what it was handed, per event id.
class Effect final : public EventSubscriber {
 public:
  using After = std::function<void(std::span<const Event>)>;
  Effect(World& world, After after = {}) : world_(world), after_(std::move(after)) {}
  std::string_view Name() const override { return "effects"; }
  void Handle(std::span<const Event> batch) override {
    world_.Apply(batch);
    if (after_) after_(batch);
  }

 private:
  World& world_;
  After after_;
};

// Every id handed to any instance, with the number of times.
struct Handed {
  std::mutex mu;
  std::map<std::string, int> times;
  void Add(std::span<const Event> batch) {
    std::lock_guard lock(mu);
    for (const Event& e : batch) ++times[e.id];
  }
  int Redelivered() {
    std::lock_guard lock(mu);
    int n = 0;
    for (const auto& [id, t] : times) n += t - 1;
    return n;
  }
};

TEST(RedisStreamsBattery, C6ConsumersKilledAfterTheirCommitBeforeTheirAckLoseNothingAndApplyOnce) {
  LocalRedis server;
  World world(server);
  constexpr int kEvents = 1000;
  // The relay runs in a bus of its own; the consumer's instances are victims, one after the
  // other. Each dies (commit, then no ack) on the first batch holding an event whose number ends
  // in 3 (10% of them) that was not fatal to another one yet; the next one takes over what the
  // dead ones left pending.
  auto relay = world.NewBus("relay");
  relay->Start();
  Handed handed;
  std::mutex mu;
  std::condition_variable cv;
  bool died = false;
  std::set<std::string> fatal_done;
  int victims = 0;
  std::uint64_t reclaimed = 0;
  world.Publish(0, kEvents);
  while (!world.AllAppliedOnce(kEvents) && victims < 1000) {
    Effect dying(world, [&](std::span<const Event> batch) {
      handed.Add(batch);
      std::lock_guard lock(mu);
      for (const Event& e : batch) {
        if (e.payload.back() == '3' && fatal_done.insert(e.id).second) {
          died = true;
          cv.notify_all();
          throw std::runtime_error("killed after the commit, before the ack");
        }
      }
    });
    auto victim = world.NewBus("victim-" + std::to_string(victims++), /*relay=*/false, 5);
    victim->Subscribe(EffectOn(dying));
    victim->Start();
    {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 1s, [&] { return died; });
      died = false;
    }
    victim->Stop();  // in its retry backoff: the batch stays pending under the victim's name
    reclaimed += victim->Reclaimed("producer");
  }
  // A healthy instance takes over what the last victims left: nothing stays unacknowledged.
  Effect healthy(world, [&](std::span<const Event> batch) { handed.Add(batch); });
  auto last = world.NewBus("healthy", /*relay=*/false, 5);
  last->Subscribe(EffectOn(healthy));
  last->Start();
  EXPECT_TRUE(WaitUntil([&] {
    return server.Command({"XPENDING", "events:producer", "effects"}).rfind("0\n", 0) == 0;
  })) << server.Command({"XPENDING", "events:producer", "effects"});
  last->Stop();
  reclaimed += last->Reclaimed("producer");
  relay->Stop();
  std::printf("C6: %d instances, %zu killed after their commit, %d redeliveries, %llu reclaimed\n",
              victims, fatal_done.size(), handed.Redelivered(),
              static_cast<unsigned long long>(reclaimed));
  EXPECT_TRUE(world.AllAppliedOnce(kEvents)) << "every event applied, 0 duplicate effects";
  EXPECT_GE(fatal_done.size(), 90u) << "about 10% of the events killed an instance";
  EXPECT_GE(handed.Redelivered(), 50) << "redeliveries observed";
  EXPECT_GE(reclaimed, 50u) << "taken over from dead consumers (XAUTOCLAIM)";
}

// What the composition roots rely on by naming consumers after the data directory (issue 15,
// C1-lite): an instance killed between its commit and its ack, restarted under the same name,
// takes its pending entries back at once; under another name they wait claim_idle (here 60 s)
// for XAUTOCLAIM.
TEST(RedisStreamsBattery, AConsumerKilledAndRestartedUnderItsNameTakesBackItsPendingAtOnce) {
  LocalRedis server;
  World world(server);
  constexpr Millis kClaimIdle = 60s;
  auto relay = world.NewBus("relay");
  relay->Start();
  world.Publish(0, 20);
  // All 20 in the stream before the victim reads: it then takes them all in one read, and no
  // entry the relay appends later is left new for another consumer name to read (a failure of
  // this test in a clean-clone run under ASan: 'taken before claim_idle').
  auto stream_length = [&] { return server.Command({"XLEN", "events:producer"}); };
  ASSERT_TRUE(WaitUntil([&] { return stream_length() == "20"; }, 10s)) << stream_length();
  std::mutex mu;
  std::condition_variable cv;
  bool died = false;
  Effect dying(world, [&](std::span<const Event>) {
    std::lock_guard lock(mu);
    died = true;
    cv.notify_all();
    throw std::runtime_error("killed after the commit, before the ack");
  });
  auto victim = world.NewBus("orders@host:1", /*relay=*/false, 100, kClaimIdle);
  victim->Subscribe(EffectOn(dying));
  victim->Start();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return died; }));
  }
  victim->Stop();  // in its retry backoff: the batch stays pending under its name
  victim.reset();
  auto pending = [&] { return server.Command({"XPENDING", "events:producer", "effects"}); };
  ASSERT_EQ(pending().rfind("0\n", 0), std::string::npos) << "the victim left entries pending";

  Handed handed;
  Effect healthy(world, [&](std::span<const Event> batch) { handed.Add(batch); });
  {
    // Another name (a restart that took a new one): the entries are not its to read yet.
    auto other = world.NewBus("orders@host:2", /*relay=*/false, 100, kClaimIdle);
    other->Subscribe(EffectOn(healthy));
    other->Start();
    std::this_thread::sleep_for(1s);
    other->Stop();
    EXPECT_TRUE(handed.times.empty()) << "taken before claim_idle";
  }
  const auto restarted = std::chrono::steady_clock::now();
  auto again = world.NewBus("orders@host:1", /*relay=*/false, 100, kClaimIdle);
  again->Subscribe(EffectOn(healthy));
  again->Start();
  EXPECT_TRUE(WaitUntil([&] { return pending().rfind("0\n", 0) == 0; }, 10s)) << pending();
  const auto took = std::chrono::steady_clock::now() - restarted;
  EXPECT_LT(took, 10s) << "well before claim_idle (60 s)";
  again->Stop();
  relay->Stop();
  EXPECT_TRUE(world.AllAppliedOnce(20))
      << "every event applied once (the claims absorb the replay)";
  EXPECT_EQ(handed.times.size(), 20u);
  std::printf("restart under its name: its pending entries back after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<Millis>(took).count()));
}

// Issue 15: an entry whose handling kills the process every time, under a consumer name that is
// stable across restarts, comes back from that name's own pending list at each restart (not
// through XAUTOCLAIM): past max_deliveries it is set aside as a dead letter there too, never handed
// to the subscriber again. The crashes are simulated by reading as that consumer and never
// acknowledging (each read counts a delivery, as a consumer that died mid-batch did).
TEST(RedisStreamsBattery, AnEntryHandedOutTooOftenIsSetAsideWhenItsConsumerRestartsUnderItsName) {
  LocalRedis server;
  World world(server);
  constexpr int kMaxDeliveries = 3;
  const std::string key = "events:producer";
  const std::string consumer = "orders@host:1/0";  // instance "orders@host:1", its first reader
  auto relay = world.NewBus("relay");
  relay->Start();
  auto stream_ends_at = [&](const std::string& id) {
    return WaitUntil([&] {
      return server.Command({"XREVRANGE", key, "+", "-", "COUNT", "1"}).rfind(id, 0) == 0;
    });
  };
  ASSERT_EQ(server.Command({"XGROUP", "CREATE", key, "effects", "0", "MKSTREAM"}), "OK");
  // The poison entry: handed out kMaxDeliveries times to that consumer, never acknowledged; the
  // restart below is its kMaxDeliveries+1-th.
  world.Publish(0, 1);
  ASSERT_TRUE(stream_ends_at("1-0"));
  server.Command({"XREADGROUP", "GROUP", "effects", consumer, "STREAMS", key, ">"});
  for (int i = 1; i < kMaxDeliveries; ++i) {
    server.Command({"XREADGROUP", "GROUP", "effects", consumer, "STREAMS", key, "0"});
  }
  // A second entry it was handed once: still within max_deliveries, handed over after the restart.
  world.Publish(1, 2);
  ASSERT_TRUE(stream_ends_at("2-0"));
  server.Command({"XREADGROUP", "GROUP", "effects", consumer, "STREAMS", key, ">"});
  auto pending = [&] { return server.Command({"XPENDING", key, "effects"}); };
  ASSERT_EQ(pending().rfind("2\n", 0), 0u) << pending();

  Handed handed;
  Effect healthy(world, [&](std::span<const Event> batch) { handed.Add(batch); });
  // claim_idle 60 s: only the restart's read of its own pending list can bring the entries back.
  auto restarted = world.NewBus("orders@host:1", /*relay=*/false, 100, 60s, kMaxDeliveries);
  restarted->Subscribe(EffectOn(healthy));
  restarted->Start();
  EXPECT_TRUE(WaitUntil([&] { return pending().rfind("0\n", 0) == 0; }, 10s)) << pending();
  const auto letters = restarted->DeadLetters("consumer");
  const auto stats = restarted->Stats("producer");
  const auto dead_lettered = restarted->DeadLettered("producer", "effects");
  restarted->Stop();
  relay->Stop();
  {
    std::lock_guard lock(handed.mu);
    EXPECT_EQ(handed.times.count("producer:1"), 0u) << "the poison entry was handed over again";
    EXPECT_EQ(handed.times.count("producer:2"), 1u) << "the other entry was not handed over";
  }
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].event_id, "producer:1");
  EXPECT_EQ(letters[0].subscriber, "effects");
  EXPECT_NE(letters[0].reason.find("handed out 4 times"), std::string::npos) << letters[0].reason;
  EXPECT_EQ(stats.dead_letters, 1u);
  EXPECT_EQ(dead_lettered, 1u);
  EXPECT_EQ(world.Effects(), (std::map<std::string, int>{{"p1", 1}}));
}

// Issue 15: an instance loads its cache from its database, then starts the bus; a cache refresh
// must see every event appended after the load began, including one appended before Start().
TEST(RedisStreamsBattery, ACacheRefreshSeesAnEventAppendedBetweenItsSubscriptionAndStart) {
  LocalRedis server;
  World world(server);
  const std::string key = "events:producer";
  auto add = [&](const std::string& id, const std::string& payload) {
    server.Command({"XADD", key, id, "topic", "t", "payload", payload, "at", "0"});
  };
  add("1-0", "before");  // already in the database the cache loads
  Handed handed;
  class Cache final : public EventSubscriber {
   public:
    explicit Cache(Handed& handed) : handed_(handed) {}
    std::string_view Name() const override { return "cache"; }
    void Handle(std::span<const Event> batch) override { handed_.Add(batch); }

   private:
    Handed& handed_;
  } cache(handed);
  auto bus = world.NewBus("cache-instance", /*relay=*/false);
  // The composition root subscribes, then loads the cache, then starts the bus.
  bus->Subscribe(Subscription{"producer", {"t"}, "consumer", Delivery::kCacheRefresh, &cache});
  add("2-0", "during the load");  // committed after the load read its row
  bus->Start();
  add("3-0", "after");
  EXPECT_TRUE(WaitUntil([&] {
    std::lock_guard lock(handed.mu);
    return handed.times.count("producer:3") == 1;
  }));
  bus->Stop();
  std::lock_guard lock(handed.mu);
  EXPECT_EQ(handed.times.count("producer:2"), 1u) << "the change made during the load was missed";
  EXPECT_EQ(handed.times.count("producer:1"), 0u) << "what the load saw is not replayed";
}

TEST(RedisStreamsBattery, D6RedisDownWhileEventsAreAppendedEverythingIsDeliveredOnceItReturns) {
  LocalRedis server(rocketmart::testing::LocalRedisOptions{.appendonly = true});
  World world(server);
  Handed handed;
  Effect effect(world, [&](std::span<const Event> b) { handed.Add(b); });
  auto bus = world.NewBus("d6");
  bus->Subscribe(EffectOn(effect));
  bus->Start();
  world.Publish(0, 200);
  ASSERT_TRUE(WaitUntil([&] { return world.AllAppliedOnce(200); }));
  ASSERT_TRUE(WaitUntil([&] { return world.OutboxRows() == 0; })) << "pruned once acknowledged";

  server.Stop();
  world.Publish(200, 700);  // payments keep succeeding: the outbox is their truth
  EXPECT_EQ(world.OutboxRows(), 500) << "the outbox grows while the bus is down";
  std::this_thread::sleep_for(1s);  // the outage lasts: readers and the relay keep failing
  EXPECT_EQ(world.Effects().size(), 200u);

  const auto back = std::chrono::steady_clock::now();
  server.Start();
  ASSERT_TRUE(WaitUntil([&] { return world.AllAppliedOnce(700); }, 30s))
      << "everything delivered after Redis returned, 0 lost, 0 duplicated";
  const auto took = std::chrono::steady_clock::now() - back;
  EXPECT_LT(took, 30s);
  std::printf("D6: 500 events delivered %lld ms after Redis returned\n",
              static_cast<long long>(std::chrono::duration_cast<Millis>(took).count()));
  EXPECT_TRUE(WaitUntil([&] { return world.OutboxRows() == 0; }));
  bus->Stop();
  EXPECT_TRUE(world.AllAppliedOnce(700));
}

// Redis loses what it had acknowledged to the relay while some of it is not delivered yet.
void ExpectEveryEventOnceAfterALoss(const std::function<void(LocalRedis&)>& lose) {
  LocalRedis server;
  World world(server);
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  Effect effect(world, [&](std::span<const Event>) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !hold; });
  });
  auto bus = world.NewBus("c7", /*relay=*/true, /*batch=*/20);
  bus->Subscribe(EffectOn(effect));
  bus->Start();
  world.Publish(0, 100);
  ASSERT_TRUE(WaitUntil([&] { return world.AllAppliedOnce(100); }));
  {
    std::lock_guard lock(mu);
    hold = true;  // the consumer stalls: what follows is published, not acknowledged
  }
  world.Publish(100, 300);
  ASSERT_TRUE(WaitUntil([&] {
    // The relay has published everything: the stream's last entry is the 300th event.
    const std::string last =
        server.Command({"XREVRANGE", "events:producer", "+", "-", "COUNT", "1"});
    return last.rfind("300-0", 0) == 0;
  }));
  lose(server);
  {
    std::lock_guard lock(mu);
    hold = false;
  }
  cv.notify_all();
  world.Publish(300, 400);
  ASSERT_TRUE(WaitUntil([&] { return world.AllAppliedOnce(400); }, 30s))
      << "every event applied exactly once after Redis lost entries";
  EXPECT_GE(bus->Republished("producer"), 1u) << "the relay published again from the outbox";
  bus->Stop();
  EXPECT_TRUE(world.AllAppliedOnce(400));
}

TEST(RedisStreamsBattery, C7RedisKilledAndRestartedWithoutAofTheOutboxIsPublishedAgain) {
  ExpectEveryEventOnceAfterALoss([](LocalRedis& server) {
    server.Kill9();
    server.Start();  // appendonly no, no snapshots: empty
  });
}

TEST(RedisStreamsBattery, C7RedisFlushedTheOutboxIsPublishedAgain) {
  ExpectEveryEventOnceAfterALoss([](LocalRedis& server) { server.Command({"FLUSHALL"}); });
}

}  // namespace
}  // namespace rocketmart::events::redis_streams

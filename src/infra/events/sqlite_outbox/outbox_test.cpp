// The SQLite outbox and its in-process relay against real databases: a producer ("orders") whose
// outbox is read, and a consumer ("shop") that keeps the positions, claims and dead letters. The
// port's own promises are checked (for every adapter) by tests/contract/events/; these tests look
// at what only this adapter has: its tables, the carry-over from the old layout,
// DeliverOnceForTest.
#include "infra/events/sqlite_outbox/outbox.hpp"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <vector>

#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/storage/migrations.hpp"
#include "support/latch.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::events::sqlite_outbox {
namespace {

using rocketmart::testing::Counter;
using storage::Database;
using storage::GroupCommitWriter;
using storage::Migration;
using storage::OpenOptions;
using storage::ReadConnections;
using storage::Statement;

constexpr Migration kEffects{1, "effects",
                             "CREATE TABLE effects (event_id TEXT PRIMARY KEY, times INTEGER)"};

// Records every batch it is handed; fails the first `fail_first` attempts.
class RecordingSubscriber : public EventSubscriber {
 public:
  explicit RecordingSubscriber(std::string name, int fail_first = 0)
      : name_(std::move(name)), fail_first_(fail_first) {}
  std::string_view Name() const override { return name_; }
  void Handle(std::span<const Event> batch) override {
    {
      std::lock_guard lock(mu_);
      attempts_.emplace_back(batch.begin(), batch.end());
      if (static_cast<int>(attempts_.size()) <= fail_first_) {
        throw std::runtime_error("downstream unavailable");
      }
      accepted_.insert(accepted_.end(), batch.begin(), batch.end());
    }
    accepted_count_.Add(static_cast<int>(batch.size()));
  }
  std::vector<Event> accepted() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::vector<Event>> attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  Counter& accepted_count() { return accepted_count_; }

 private:
  std::string name_;
  int fail_first_;
  std::mutex mu_;
  std::vector<std::vector<Event>> attempts_;
  std::vector<Event> accepted_;
  Counter accepted_count_;
};

// Applies each event's effect in a writer job of the consumer guarded by ClaimEvent; optionally
// fails after the effects committed, before returning.
class EffectSubscriber : public EventSubscriber {
 public:
  EffectSubscriber(GroupCommitWriter& writer, const Clock& clock, bool fail_after_effects)
      : writer_(writer), clock_(clock), fail_(fail_after_effects) {}
  std::string_view Name() const override { return "effects"; }
  void Handle(std::span<const Event> batch) override {
    for (const Event& event : batch) {
      writer_.RunSync([&](Database& db) {
        if (!ClaimEvent(db, Name(), event.id, clock_.Now())) {
          ++duplicates_;
          return;
        }
        db.Cached(
              "INSERT INTO effects VALUES (?1, 1) "
              "ON CONFLICT (event_id) DO UPDATE SET times = times + 1")
            .BindText(1, event.id)
            .Step();
      });
    }
    if (fail_) throw std::runtime_error("failed after the effects committed");
  }
  int duplicates() const { return duplicates_; }

 private:
  GroupCommitWriter& writer_;
  const Clock& clock_;
  bool fail_;
  int duplicates_ = 0;  // Written on the writer thread, read after the round returned.
};

// Refuses, as a decoder would, every event whose payload is in `undecodable` (the whole batch,
// before accepting any of it); accepts the rest. `name_an_unknown_event` makes it name an id that
// is not in the batch instead.
class PickySubscriber : public EventSubscriber {
 public:
  explicit PickySubscriber(std::set<std::string> undecodable, bool name_an_unknown_event = false)
      : undecodable_(std::move(undecodable)), unknown_(name_an_unknown_event) {}
  std::string_view Name() const override { return "picky"; }
  void Handle(std::span<const Event> batch) override {
    ++calls_;
    for (const Event& e : batch) {
      if (undecodable_.contains(e.payload)) {
        throw MalformedEvent(unknown_ ? "elsewhere:1" : e.id, "no field memberId");
      }
    }
    accepted_.insert(accepted_.end(), batch.begin(), batch.end());
  }
  const std::vector<Event>& accepted() const { return accepted_; }
  int calls() const { return calls_; }

 private:
  std::set<std::string> undecodable_;
  bool unknown_;
  std::vector<Event> accepted_;
  int calls_ = 0;
};

// A migrated database with its writer running.
struct Db {
  explicit Db(const std::string& path, std::vector<Migration> migrations = {})
      : writer(OpenOptions{.path = path}) {
    storage::Migrate(writer.Connection(), migrations);
    writer.Start();
  }
  ~Db() { writer.Stop(); }
  std::int64_t Scalar(std::string_view sql) {
    Database& db = readers.ForThisThread();
    Statement& stmt = db.Cached(sql);
    std::int64_t v = stmt.Step() ? stmt.Int64(0) : -1;
    stmt.Reset();
    return v;
  }
  GroupCommitWriter writer;
  ReadConnections readers{OpenOptions{.path = writer.path()}};
};

class SqliteOutboxTest : public ::testing::Test {
 protected:
  std::vector<std::int64_t> Append(const std::vector<std::string>& topics) {
    std::vector<std::int64_t> seqs;
    producer_.writer.RunSync([&](Database& db) {
      for (std::size_t i = 0; i < topics.size(); ++i) {
        seqs.push_back(
            sqlite_outbox::Append(db, topics[i], "payload-" + std::to_string(i), clock_.Now()));
      }
    });
    return seqs;
  }
  // A bus over both databases; Subscribe with Sub(...).
  std::unique_ptr<SqliteEventBus> MakeBus(SqliteEventBus::Options options = {}) {
    auto bus = std::make_unique<SqliteEventBus>(clock_, options);
    bus->AddService("orders", producer_.writer, producer_.readers);
    bus->AddService("shop", consumer_.writer, consumer_.readers);
    return bus;
  }
  static Subscription Sub(EventSubscriber& s, std::vector<std::string> topics,
                          Delivery delivery = Delivery::kEffect) {
    return Subscription{"orders", std::move(topics), "shop", delivery, &s};
  }
  static std::vector<std::string> Ids(const std::vector<Event>& events) {
    std::vector<std::string> ids;
    for (const Event& e : events) ids.push_back(e.id);
    return ids;
  }

  rocketmart::testing::TempDir dir_{"outbox"};
  FakeClock clock_;
  Db producer_{dir_.File("orders.db")};
  Db consumer_{dir_.File("shop.db"), {kEffects}};
};

TEST_F(SqliteOutboxTest, DeliversInOrderToTopicSubscribersExactlyOnce) {
  auto seqs = Append({"order.placed", "order.paid", "order.placed", "order.paid", "order.placed"});
  ASSERT_EQ(seqs.size(), 5u);
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);

  RecordingSubscriber placed("placed-only");
  RecordingSubscriber everything("everything");
  auto bus = MakeBus();
  bus->Subscribe(Sub(placed, {"order.placed"}));
  bus->Subscribe(Sub(everything, {"order.placed", "order.paid"}, Delivery::kCacheRefresh));

  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));  // Nothing new: nothing redelivered.

  auto got = placed.accepted();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(Ids(got), (std::vector<std::string>{"orders:" + std::to_string(seqs[0]),
                                                "orders:" + std::to_string(seqs[2]),
                                                "orders:" + std::to_string(seqs[4])}));
  EXPECT_EQ(got[1].topic, "order.placed");
  EXPECT_EQ(got[1].payload, "payload-2");
  EXPECT_EQ(got[1].created_at, FromUnixMillis(ToUnixMillis(clock_.Now())));
  auto all = everything.accepted();
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].id, "orders:" + std::to_string(seqs[i]));
  }
  EXPECT_EQ(bus->Stats("orders").delivered, 8u);
  EXPECT_EQ(bus->Position("orders", "placed-only"), seqs.back());  // Passed the other topic too.
  EXPECT_EQ(bus->Lag("orders", "placed-only"), 0);
  EXPECT_EQ(bus->Lag("orders", "unknown"), -1);
}

TEST_F(SqliteOutboxTest, PositionsLiveInTheConsumersDatabase) {
  Append({"t", "t"});
  RecordingSubscriber sub("sub");
  auto bus = MakeBus();
  bus->Subscribe(Sub(sub, {"t"}));
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(
      consumer_.Scalar(
          "SELECT last_seq FROM event_cursors WHERE source = 'orders' AND subscriber = 'sub'"),
      2);
  EXPECT_EQ(producer_.Scalar("SELECT count(*) FROM event_cursors"), 0);
  EXPECT_EQ(producer_.Scalar("SELECT count(*) FROM outbox_cursor"), 0);
  EXPECT_EQ(producer_.Scalar("SELECT count(*) FROM outbox"), 0) << "pruned once passed";
}

TEST_F(SqliteOutboxTest, RunningBusWakesOnCommitAndDeliversInOrder) {
  RecordingSubscriber sub("sub");
  // A poll interval this long proves delivery is driven by the commit listener, not polling.
  auto bus = MakeBus({.poll_interval = Millis{3'600'000}});
  bus->Subscribe(Sub(sub, {"t"}));
  bus->Start();
  for (int round = 0; round < 20; ++round) Append({"t", "other", "t"});
  ASSERT_TRUE(sub.accepted_count().WaitFor(40));
  bus->Stop();
  auto got = sub.accepted();
  ASSERT_EQ(got.size(), 40u);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(std::stoll(got[i - 1].id.substr(7)), std::stoll(got[i].id.substr(7)));
  }
}

TEST_F(SqliteOutboxTest, EventsOfARolledBackJobAreNeverPublished) {
  EXPECT_THROW(producer_.writer.RunSync([&](Database& db) {
    sqlite_outbox::Append(db, "t", "ghost", clock_.Now());
    throw std::runtime_error("state change failed");
  }),
               std::runtime_error);
  EXPECT_EQ(producer_.Scalar("SELECT COUNT(*) FROM outbox"), 0);
}

TEST_F(SqliteOutboxTest, FailingSubscriberGetsTheSameBatchUntilItSucceeds) {
  Append({"t", "t", "t"});
  RecordingSubscriber flaky("flaky", /*fail_first=*/2);
  auto bus = MakeBus();
  bus->Subscribe(Sub(flaky, {"t"}));
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(bus->Position("orders", "flaky"), 0);
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(bus->Position("orders", "flaky"), 0);
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));

  auto attempts = flaky.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(Ids(attempts[0]), Ids(attempts[1]));
  EXPECT_EQ(Ids(attempts[0]), Ids(attempts[2]));
  EXPECT_EQ(attempts[0].size(), 3u);
  EXPECT_EQ(bus->Stats("orders").failures, 2u);
  EXPECT_EQ(bus->Stats("orders").delivered, 3u);
  EXPECT_EQ(consumer_.Scalar("SELECT last_seq FROM event_cursors WHERE subscriber = 'flaky'"),
            bus->Position("orders", "flaky"));
}

TEST_F(SqliteOutboxTest, MalformedEventsAreSetAsideInTheConsumersDatabase) {
  Append({"t", "t", "t", "t"});
  PickySubscriber picky({"payload-1", "payload-3"});
  auto bus = MakeBus();
  bus->Subscribe(Sub(picky, {"t"}));
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(Ids(picky.accepted()), (std::vector<std::string>{"orders:1", "orders:3"}));
  EXPECT_EQ(picky.calls(), 3) << "the batch, then without each malformed event in turn";
  EXPECT_EQ(bus->Position("orders", "picky"), 4);
  EXPECT_EQ(bus->Stats("orders").dead_letters, 2u);
  EXPECT_EQ(bus->Stats("orders").failures, 0u);
  // Kept for the operator with what is needed to understand and replay it.
  EXPECT_EQ(consumer_.Scalar("SELECT count(*) FROM event_dead_letters WHERE source = 'orders' AND "
                             "subscriber = 'picky' AND topic = 't' AND "
                             "reason = 'no field memberId'"),
            2);
  EXPECT_EQ(consumer_.Scalar("SELECT count(*) FROM event_dead_letters WHERE "
                             "event_id = 'orders:2' AND payload = 'payload-1'"),
            1);
  EXPECT_EQ(producer_.Scalar("SELECT count(*) FROM event_dead_letters"), 0);
  const auto letters = ReadDeadLetters(consumer_.readers.ForThisThread());
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].source, "orders");
  EXPECT_EQ(letters[0].subscriber, "picky");
  EXPECT_EQ(bus->DeadLetters("shop").size(), 2u);
  EXPECT_TRUE(bus->DeadLetters("orders").empty());
  EXPECT_FALSE(bus->DeliverOnceForTest("orders")) << "nothing is delivered twice";
}

TEST_F(SqliteOutboxTest, AMalformedEventOutsideTheBatchIsAnOrdinaryFailure) {
  Append({"t", "t"});
  PickySubscriber confused({"payload-0"}, /*name_an_unknown_event=*/true);
  auto bus = MakeBus();
  bus->Subscribe(Sub(confused, {"t"}));
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(bus->Position("orders", "picky"), 0) << "not advanced: the batch will be retried";
  EXPECT_EQ(bus->Stats("orders").failures, 1u);
  EXPECT_EQ(bus->Stats("orders").dead_letters, 0u);
  EXPECT_EQ(consumer_.Scalar("SELECT count(*) FROM event_dead_letters"), 0);
}

TEST_F(SqliteOutboxTest, RunningBusRetriesAfterBackoff) {
  Append({"t", "t"});
  RecordingSubscriber flaky("flaky", /*fail_first=*/2);
  auto bus = MakeBus({.retry_backoff_initial = Millis{1}, .retry_backoff_max = Millis{4}});
  bus->Subscribe(Sub(flaky, {"t"}));
  bus->Start();
  ASSERT_TRUE(flaky.accepted_count().WaitFor(2));
  bus->Stop();
  EXPECT_EQ(flaky.attempts().size(), 3u);
  EXPECT_EQ(flaky.accepted().size(), 2u);
  EXPECT_EQ(bus->Stats("orders").failures, 2u);
}

// The claims move the effect's position in the effect's own transaction: a batch that failed
// after its effects committed is redelivered by the same relay (whose position did not move) and
// changes nothing, and a new relay (a restart) does not even redeliver it.
TEST_F(SqliteOutboxTest, AnEffectsClaimsMoveItsPositionWithTheEffect) {
  auto seqs = Append({"order.paid", "order.paid", "order.paid"});
  {
    EffectSubscriber failing(consumer_.writer, clock_, /*fail_after_effects=*/true);
    auto bus = MakeBus();
    bus->Subscribe(Sub(failing, {"order.paid"}));
    EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
    EXPECT_EQ(failing.duplicates(), 0);
    EXPECT_EQ(bus->Position("orders", "effects"), 0) << "the relay did not acknowledge";
    EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
    EXPECT_EQ(failing.duplicates(), 3) << "redelivered, and every claim refused it";
  }
  EXPECT_EQ(consumer_.Scalar("SELECT SUM(times) FROM effects"), 3);
  EXPECT_EQ(consumer_.Scalar("SELECT last_seq FROM event_cursors WHERE subscriber = 'effects'"),
            seqs.back());

  EffectSubscriber healthy(consumer_.writer, clock_, /*fail_after_effects=*/false);
  auto bus = MakeBus();
  bus->Subscribe(Sub(healthy, {"order.paid"}));
  EXPECT_FALSE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(healthy.duplicates(), 0) << "the stored position was past them";
  EXPECT_EQ(bus->Position("orders", "effects"), seqs.back());
  EXPECT_EQ(consumer_.Scalar("SELECT COUNT(*) FROM processed_events WHERE consumer = 'effects'"),
            3);
}

TEST_F(SqliteOutboxTest, ResumesFromTheStoredPosition) {
  Append({"t", "t"});
  {
    RecordingSubscriber sub("sub");
    auto bus = MakeBus();
    bus->Subscribe(Sub(sub, {"t"}));
    EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
    EXPECT_EQ(sub.accepted().size(), 2u);
  }
  auto second = Append({"t"});
  RecordingSubscriber sub("sub");
  auto bus = MakeBus();
  bus->Subscribe(Sub(sub, {"t"}));
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  ASSERT_EQ(sub.accepted().size(), 1u);
  EXPECT_EQ(sub.accepted()[0].id, "orders:" + std::to_string(second[0]));
}

TEST_F(SqliteOutboxTest, IndependentPositionsAndPruningOfRowsEveryonePassed) {
  Append({"t", "t", "t", "t", "t"});
  RecordingSubscriber fast("fast");
  RecordingSubscriber slow("slow", /*fail_first=*/1);
  auto bus = MakeBus();
  bus->Subscribe(Sub(fast, {"t"}));
  bus->Subscribe(Sub(slow, {"t"}));

  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));  // fast advances, slow fails.
  EXPECT_EQ(fast.accepted().size(), 5u);
  EXPECT_EQ(slow.accepted().size(), 0u);
  EXPECT_EQ(bus->Lag("orders", "fast"), 0);
  EXPECT_EQ(bus->Lag("orders", "slow"), 5);
  EXPECT_EQ(bus->Stats("orders").backlog, 5);                     // the slowest subscriber's
  EXPECT_EQ(producer_.Scalar("SELECT COUNT(*) FROM outbox"), 5);  // Still needed by slow.

  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(slow.accepted().size(), 5u);
  EXPECT_EQ(bus->Stats("orders").backlog, 0);
  EXPECT_EQ(Ids(slow.accepted()), Ids(fast.accepted()));
  EXPECT_EQ(fast.accepted().size(), 5u);  // No redelivery to the subscriber that had them.
  EXPECT_EQ(producer_.Scalar("SELECT COUNT(*) FROM outbox"), 0);

  // Sequence numbers keep growing after the table was emptied, so positions stay valid.
  auto later = Append({"t"});
  EXPECT_EQ(later[0], 6);
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(fast.accepted().back().id, "orders:6");
  EXPECT_EQ(slow.accepted().back().id, "orders:6");
}

// A data directory written before issue 12 kept positions and dead letters in the producer's
// database. The first start carries them over to the consumer: nothing delivered twice, nothing
// skipped, no dead letter lost; the old rows are gone afterwards.
TEST_F(SqliteOutboxTest, PositionsAndDeadLettersKeptByTheOldLayoutAreCarriedOverOnce) {
  Append({"t", "t", "t"});
  producer_.writer.RunSync([](Database& db) {
    db.Exec(
        "INSERT INTO outbox_cursor (subscriber, last_seq) VALUES ('sub', 2), ('gone', 1);"
        "INSERT INTO outbox_dead_letters (subscriber, event_id, topic, payload, reason, at_ms) "
        "VALUES ('sub', 'orders:1', 't', 'payload-0', 'bad', 5), "
        "       ('gone', 'orders:1', 't', 'payload-0', 'bad', 5);");
  });
  EXPECT_EQ(ReadLegacyDeadLetters(producer_.readers.ForThisThread(), "orders").size(), 2u);
  RecordingSubscriber sub("sub");
  {
    auto bus = MakeBus();
    bus->Subscribe(Sub(sub, {"t"}));
    EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  }
  EXPECT_EQ(Ids(sub.accepted()), (std::vector<std::string>{"orders:3"}));
  EXPECT_EQ(consumer_.Scalar("SELECT last_seq FROM event_cursors WHERE subscriber = 'sub'"), 3);
  const auto moved = ReadDeadLetters(consumer_.readers.ForThisThread());
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].source, "orders");
  EXPECT_EQ(moved[0].subscriber, "sub");
  EXPECT_EQ(moved[0].event_id, "orders:1");
  EXPECT_EQ(moved[0].payload, "payload-0");
  EXPECT_EQ(moved[0].reason, "bad");
  EXPECT_EQ(moved[0].at, FromUnixMillis(5));
  EXPECT_EQ(producer_.Scalar("SELECT count(*) FROM outbox_cursor WHERE subscriber = 'sub'"), 0);
  // A subscriber this process does not register keeps its rows where they were (still listed).
  const auto left = ReadLegacyDeadLetters(producer_.readers.ForThisThread(), "orders");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].subscriber, "gone");
  EXPECT_EQ(left[0].source, "orders");

  // The next start finds nothing to carry and resumes from the consumer's position.
  Append({"t"});
  RecordingSubscriber again("sub");
  auto bus = MakeBus();
  bus->Subscribe(Sub(again, {"t"}));
  EXPECT_TRUE(bus->DeliverOnceForTest("orders"));
  EXPECT_EQ(Ids(again.accepted()), (std::vector<std::string>{"orders:4"}));
  EXPECT_EQ(ReadDeadLetters(consumer_.readers.ForThisThread()).size(), 1u);
}

TEST_F(SqliteOutboxTest, ClaimEventIsFirstWinsPerConsumer) {
  bool first = false, again = false, other_consumer = false;
  consumer_.writer.RunSync([&](Database& db) {
    first = ClaimEvent(db, "c1", "orders:1", clock_.Now());
    again = ClaimEvent(db, "c1", "orders:1", clock_.Now());
    other_consumer = ClaimEvent(db, "c2", "orders:1", clock_.Now());
  });
  EXPECT_TRUE(first);
  EXPECT_FALSE(again);
  EXPECT_TRUE(other_consumer);
  EXPECT_EQ(consumer_.Scalar("SELECT last_seq FROM event_cursors WHERE source = 'orders' AND "
                             "subscriber = 'c1'"),
            1);

  clock_.Advance(std::chrono::hours{48});
  std::int64_t pruned = 0;
  consumer_.writer.RunSync([&](Database& db) {
    pruned = PruneProcessedEvents(db, clock_.Now() - std::chrono::hours{24});
  });
  EXPECT_EQ(pruned, 2);
}

TEST_F(SqliteOutboxTest, ClaimsOfIdsWithoutASequenceMoveNoPosition) {
  consumer_.writer.RunSync([&](Database& db) {
    EXPECT_TRUE(ClaimEvent(db, "c", "orders:5-replay", clock_.Now()));
    EXPECT_TRUE(ClaimEvent(db, "c", "product-7", clock_.Now()));
    EXPECT_TRUE(ClaimEvent(db, "c", ":7", clock_.Now()));
  });
  EXPECT_EQ(consumer_.Scalar("SELECT count(*) FROM event_cursors"), 0);
}

TEST_F(SqliteOutboxTest, OldClaimsArePrunedOldestFirstInBoundedBatches) {
  // Five claims an hour apart, then a fresh one that must survive.
  for (int i = 1; i <= 5; ++i) {
    consumer_.writer.RunSync(
        [&](Database& db) { ClaimEvent(db, "c", "orders:" + std::to_string(i), clock_.Now()); });
    clock_.Advance(std::chrono::hours{1});
  }
  clock_.Advance(std::chrono::hours{48});
  consumer_.writer.RunSync([&](Database& db) { ClaimEvent(db, "c", "orders:6", clock_.Now()); });
  const TimePoint before = clock_.Now() - std::chrono::hours{24};
  std::vector<std::int64_t> batches;
  for (std::int64_t pruned = 2; pruned == 2;) {
    consumer_.writer.RunSync([&](Database& db) { pruned = PruneProcessedEvents(db, before, 2); });
    batches.push_back(pruned);
  }
  EXPECT_EQ(batches, (std::vector<std::int64_t>{2, 2, 1}));
  EXPECT_EQ(consumer_.Scalar("SELECT count(*) FROM processed_events"), 1);
  // The survivor is still a claim: its redelivery is still refused.
  bool again = true;
  consumer_.writer.RunSync(
      [&](Database& db) { again = ClaimEvent(db, "c", "orders:6", clock_.Now()); });
  EXPECT_FALSE(again);
}

TEST_F(SqliteOutboxTest, SubscribeRulesAreEnforced) {
  RecordingSubscriber a("same"), b("same"), cache("same"), c("other");
  auto bus = MakeBus();
  bus->Subscribe(Sub(a, {"t"}));
  bus->Subscribe(Sub(b, {"t"}));  // A second instance of the same effect: fine.
  EXPECT_THROW(bus->Subscribe(Sub(b, {"t"})), std::invalid_argument) << "the same object twice";
  EXPECT_THROW(bus->Subscribe(Sub(cache, {"t"}, Delivery::kCacheRefresh)), std::invalid_argument)
      << "a cache refresh's name is its own";
  EXPECT_THROW(bus->Subscribe(Sub(c, {})), std::invalid_argument) << "no topic";
  EXPECT_THROW(bus->Subscribe(Subscription{"nowhere", {"t"}, "shop", Delivery::kEffect, &c}),
               std::invalid_argument);
  EXPECT_THROW(bus->Subscribe(Subscription{"orders", {"t"}, "nobody", Delivery::kEffect, &c}),
               std::invalid_argument);
  bus->Start();
  EXPECT_THROW(bus->Subscribe(Sub(c, {"v"})), std::logic_error);
  EXPECT_THROW(bus->DeliverOnceForTest("orders"), std::logic_error);
  bus->Stop();
  bus->Stop();
}

}  // namespace
}  // namespace rocketmart::events::sqlite_outbox

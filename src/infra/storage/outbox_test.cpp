#include "infra/storage/outbox.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "infra/storage/migrations.hpp"
#include "support/latch.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

using testing::Counter;

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

// Applies each event's effect in a writer job guarded by ClaimEvent; optionally "crashes" after
// the effects committed but before returning, i.e. before the relay can advance the cursor.
class EffectSubscriber : public EventSubscriber {
 public:
  EffectSubscriber(GroupCommitWriter& writer, const Clock& clock, bool crash_after_effects)
      : writer_(writer), clock_(clock), crash_(crash_after_effects) {}
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
    if (crash_) throw std::runtime_error("crash before the cursor advanced");
  }
  int duplicates() const { return duplicates_; }

 private:
  GroupCommitWriter& writer_;
  const Clock& clock_;
  bool crash_;
  int duplicates_ = 0;  // Written on the writer thread, read after the relay round returned.
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

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Migrate(writer_.Connection(), std::vector<Migration>{kEffects});
    writer_.Start();
  }
  void TearDown() override { writer_.Stop(); }

  std::vector<std::int64_t> Append(const std::vector<std::string>& topics) {
    std::vector<std::int64_t> seqs;
    writer_.RunSync([&](Database& db) {
      for (std::size_t i = 0; i < topics.size(); ++i) {
        seqs.push_back(AppendOutbox(db, topics[i], "payload-" + std::to_string(i), clock_.Now()));
      }
    });
    return seqs;
  }
  std::int64_t Scalar(std::string_view sql) {
    Database& db = readers_.ForThisThread();
    Statement& stmt = db.Cached(sql);
    std::int64_t v = stmt.Step() ? stmt.Int64(0) : -1;
    stmt.Reset();
    return v;
  }
  static std::vector<std::string> Ids(const std::vector<Event>& events) {
    std::vector<std::string> ids;
    for (const Event& e : events) ids.push_back(e.id);
    return ids;
  }

  testing::TempDir dir_{"storage"};
  FakeClock clock_;
  GroupCommitWriter writer_{OpenOptions{.path = dir_.File("orders.db")}};
  ReadConnections readers_{OpenOptions{.path = dir_.File("orders.db")}};
};

TEST_F(OutboxTest, DeliversInOrderToTopicSubscribersExactlyOnce) {
  auto seqs = Append({"order.placed", "order.paid", "order.placed", "order.paid", "order.placed"});
  ASSERT_EQ(seqs.size(), 5u);
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);

  RecordingSubscriber placed("placed-only");
  RecordingSubscriber everything("everything");
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("order.placed", &placed);
  relay.Subscribe("*", &everything);

  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_FALSE(relay.DeliverOnceForTest());  // Nothing new: nothing redelivered.

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
  EXPECT_EQ(relay.EventsDelivered(), 8u);
  EXPECT_EQ(relay.Cursor("placed-only"), seqs.back());  // Passed over the other topic too.
  EXPECT_EQ(relay.Lag("placed-only"), 0);
  EXPECT_EQ(relay.Lag("unknown"), -1);
}

TEST_F(OutboxTest, RunningRelayWakesOnCommitAndDeliversInOrder) {
  RecordingSubscriber sub("sub");
  // A poll interval this long proves delivery is driven by the commit listener, not polling.
  OutboxRelay relay("orders", writer_, readers_, clock_, {.poll_interval = Millis{3'600'000}});
  relay.Subscribe("t", &sub);
  relay.Start();
  for (int round = 0; round < 20; ++round) Append({"t", "other", "t"});
  ASSERT_TRUE(sub.accepted_count().WaitFor(40));
  relay.Stop();
  auto got = sub.accepted();
  ASSERT_EQ(got.size(), 40u);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(std::stoll(got[i - 1].id.substr(7)), std::stoll(got[i].id.substr(7)));
  }
}

TEST_F(OutboxTest, EventsOfARolledBackJobAreNeverPublished) {
  EXPECT_THROW(writer_.RunSync([&](Database& db) {
    AppendOutbox(db, "t", "ghost", clock_.Now());
    throw std::runtime_error("state change failed");
  }),
               std::runtime_error);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM outbox"), 0);
}

TEST_F(OutboxTest, FailingSubscriberGetsTheSameBatchUntilItSucceeds) {
  Append({"t", "t", "t"});
  RecordingSubscriber flaky("flaky", /*fail_first=*/2);
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &flaky);
  EXPECT_FALSE(relay.DeliverOnceForTest());
  EXPECT_EQ(relay.Cursor("flaky"), 0);
  EXPECT_FALSE(relay.DeliverOnceForTest());
  EXPECT_EQ(relay.Cursor("flaky"), 0);
  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_FALSE(relay.DeliverOnceForTest());

  auto attempts = flaky.attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(Ids(attempts[0]), Ids(attempts[1]));
  EXPECT_EQ(Ids(attempts[0]), Ids(attempts[2]));
  EXPECT_EQ(attempts[0].size(), 3u);
  EXPECT_EQ(relay.DeliveryFailures(), 2u);
  EXPECT_EQ(relay.EventsDelivered(), 3u);
  EXPECT_EQ(Scalar("SELECT last_seq FROM outbox_cursor WHERE subscriber = 'flaky'"),
            relay.Cursor("flaky"));
}

TEST_F(OutboxTest, MalformedEventsAreSetAsideAndTheRestIsDelivered) {
  Append({"t", "t", "t", "t"});
  PickySubscriber picky({"payload-1", "payload-3"});
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &picky);
  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_EQ(Ids(picky.accepted()), (std::vector<std::string>{"orders:1", "orders:3"}));
  EXPECT_EQ(picky.calls(), 3) << "the batch, then without each malformed event in turn";
  EXPECT_EQ(relay.Cursor("picky"), 4);
  EXPECT_EQ(relay.DeadLetters(), 2u);
  EXPECT_EQ(relay.DeliveryFailures(), 0u);
  // Kept for the operator with what is needed to understand and replay it.
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox_dead_letters WHERE subscriber = 'picky' AND "
                   "topic = 't' AND reason = 'no field memberId'"),
            2);
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox_dead_letters WHERE event_id = 'orders:2' AND "
                   "payload = 'payload-1'"),
            1);
  EXPECT_FALSE(relay.DeliverOnceForTest()) << "nothing is delivered twice";
}

TEST_F(OutboxTest, AMalformedEventOutsideTheBatchIsAnOrdinaryFailure) {
  Append({"t", "t"});
  PickySubscriber confused({"payload-0"}, /*name_an_unknown_event=*/true);
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &confused);
  EXPECT_FALSE(relay.DeliverOnceForTest());
  EXPECT_EQ(relay.Cursor("picky"), 0) << "not advanced: the batch will be retried";
  EXPECT_EQ(relay.DeliveryFailures(), 1u);
  EXPECT_EQ(relay.DeadLetters(), 0u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM outbox_dead_letters"), 0);
}

TEST_F(OutboxTest, RunningRelayRetriesAfterBackoff) {
  Append({"t", "t"});
  RecordingSubscriber flaky("flaky", /*fail_first=*/2);
  OutboxRelay relay("orders", writer_, readers_, clock_,
                    {.retry_backoff_initial = Millis{1}, .retry_backoff_max = Millis{4}});
  relay.Subscribe("t", &flaky);
  relay.Start();
  ASSERT_TRUE(flaky.accepted_count().WaitFor(2));
  relay.Stop();
  EXPECT_EQ(flaky.attempts().size(), 3u);
  EXPECT_EQ(flaky.accepted().size(), 2u);
  EXPECT_EQ(relay.DeliveryFailures(), 2u);
}

TEST_F(OutboxTest, RedeliveryAfterACrashHasNoSecondEffect) {
  auto seqs = Append({"order.paid", "order.paid", "order.paid"});
  {
    EffectSubscriber crashing(writer_, clock_, /*crash_after_effects=*/true);
    OutboxRelay relay("orders", writer_, readers_, clock_);
    relay.Subscribe("order.paid", &crashing);
    EXPECT_FALSE(relay.DeliverOnceForTest());
    EXPECT_EQ(crashing.duplicates(), 0);
  }  // The process "dies": the cursor never advanced.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM effects"), 3);

  EffectSubscriber healthy(writer_, clock_, /*crash_after_effects=*/false);
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("order.paid", &healthy);
  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_EQ(healthy.duplicates(), 3);                      // Every event was redelivered...
  EXPECT_EQ(Scalar("SELECT SUM(times) FROM effects"), 3);  // ...and applied only once.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM processed_events WHERE consumer = 'effects'"), 3);
  EXPECT_EQ(relay.Cursor("effects"), seqs.back());
}

TEST_F(OutboxTest, RelayResumesFromTheStoredCursor) {
  auto first = Append({"t", "t"});
  {
    RecordingSubscriber sub("sub");
    OutboxRelay relay("orders", writer_, readers_, clock_);
    relay.Subscribe("t", &sub);
    EXPECT_TRUE(relay.DeliverOnceForTest());
    EXPECT_EQ(sub.accepted().size(), 2u);
  }
  auto second = Append({"t"});
  RecordingSubscriber sub("sub");
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &sub);
  EXPECT_TRUE(relay.DeliverOnceForTest());
  ASSERT_EQ(sub.accepted().size(), 1u);
  EXPECT_EQ(sub.accepted()[0].id, "orders:" + std::to_string(second[0]));
}

TEST_F(OutboxTest, IndependentCursorsAndPruningOfRowsEveryonePassed) {
  Append({"t", "t", "t", "t", "t"});
  RecordingSubscriber fast("fast");
  RecordingSubscriber slow("slow", /*fail_first=*/1);
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &fast);
  relay.Subscribe("t", &slow);

  EXPECT_TRUE(relay.DeliverOnceForTest());  // fast advances, slow fails.
  EXPECT_EQ(fast.accepted().size(), 5u);
  EXPECT_EQ(slow.accepted().size(), 0u);
  EXPECT_EQ(relay.Lag("fast"), 0);
  EXPECT_EQ(relay.Lag("slow"), 5);
  EXPECT_EQ(relay.Backlog(), 5);                        // the slowest subscriber's
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM outbox"), 5);  // Still needed by slow.

  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_EQ(slow.accepted().size(), 5u);
  EXPECT_EQ(relay.Backlog(), 0);
  EXPECT_EQ(Ids(slow.accepted()), Ids(fast.accepted()));
  EXPECT_EQ(fast.accepted().size(), 5u);  // No redelivery to the subscriber that had them.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM outbox"), 0);

  // Sequence numbers keep growing after the table was emptied, so cursors stay valid.
  auto later = Append({"t"});
  EXPECT_EQ(later[0], 6);
  EXPECT_TRUE(relay.DeliverOnceForTest());
  EXPECT_EQ(fast.accepted().back().id, "orders:6");
  EXPECT_EQ(slow.accepted().back().id, "orders:6");
}

TEST_F(OutboxTest, ClaimEventIsFirstWinsPerConsumer) {
  bool first = false, again = false, other_consumer = false;
  writer_.RunSync([&](Database& db) {
    first = ClaimEvent(db, "c1", "orders:1", clock_.Now());
    again = ClaimEvent(db, "c1", "orders:1", clock_.Now());
    other_consumer = ClaimEvent(db, "c2", "orders:1", clock_.Now());
  });
  EXPECT_TRUE(first);
  EXPECT_FALSE(again);
  EXPECT_TRUE(other_consumer);

  clock_.Advance(std::chrono::hours{48});
  std::int64_t pruned = 0;
  writer_.RunSync([&](Database& db) {
    pruned = PruneProcessedEvents(db, clock_.Now() - std::chrono::hours{24});
  });
  EXPECT_EQ(pruned, 2);
}

TEST_F(OutboxTest, OldClaimsArePrunedOldestFirstInBoundedBatches) {
  // Five claims an hour apart, then a fresh one that must survive.
  for (int i = 1; i <= 5; ++i) {
    writer_.RunSync(
        [&](Database& db) { ClaimEvent(db, "c", "orders:" + std::to_string(i), clock_.Now()); });
    clock_.Advance(std::chrono::hours{1});
  }
  clock_.Advance(std::chrono::hours{48});
  writer_.RunSync([&](Database& db) { ClaimEvent(db, "c", "orders:6", clock_.Now()); });
  const TimePoint before = clock_.Now() - std::chrono::hours{24};
  std::vector<std::int64_t> batches;
  for (std::int64_t pruned = 2; pruned == 2;) {
    writer_.RunSync([&](Database& db) { pruned = PruneProcessedEvents(db, before, 2); });
    batches.push_back(pruned);
  }
  EXPECT_EQ(batches, (std::vector<std::int64_t>{2, 2, 1}));
  EXPECT_EQ(Scalar("SELECT count(*) FROM processed_events"), 1);
  // The survivor is still a claim: its redelivery is still refused.
  bool again = true;
  writer_.RunSync([&](Database& db) { again = ClaimEvent(db, "c", "orders:6", clock_.Now()); });
  EXPECT_FALSE(again);
}

TEST_F(OutboxTest, SubscribeRulesAreEnforced) {
  RecordingSubscriber a("same"), b("same");
  OutboxRelay relay("orders", writer_, readers_, clock_);
  relay.Subscribe("t", &a);
  relay.Subscribe("u", &a);  // Same subscriber, more topics: fine.
  EXPECT_THROW(relay.Subscribe("t", &b), std::invalid_argument);
  relay.Start();
  EXPECT_THROW(relay.Subscribe("v", &b), std::logic_error);
  EXPECT_THROW(relay.DeliverOnceForTest(), std::logic_error);
  relay.Stop();
  relay.Stop();
}

}  // namespace
}  // namespace rocketmart::storage

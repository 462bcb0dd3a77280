// Contract of the event bus port (src/infra/events/event_bus.hpp), for every adapter.
//
// The promise, checked only through the port (Subscribe/Start/Stop/Stats/DeadLetters and what
// subscribers are handed): every event a producer published is handed to each subscription at
// least once, in publication order; nothing is lost when a bus stops, is stopped in the middle of
// a batch, or its process is killed; an event a subscriber reports malformed is set aside (kept
// for the consumer with its payload and reason) and the rest is delivered; a subscriber that
// throws gets the same events again after a backoff; an effect whose store claims events has no
// second effect from a redelivery; an effect's instances share it (each event to one of them);
// every cache-refresh instance sees every event; a position survives a restart (after a clean
// stop nothing is delivered again).
//
// An adapter runs the whole suite with one line in its own _contract_test.cpp:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, EventBusContract, ::testing::Values(&OpenSqliteEventBus));
// where the factory opens (or reopens) the adapter's storage under a directory and returns an
// EventBusHarness. The crash clause forks: the child opens the same directory, the parent kills it.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "infra/events/event_bus.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::events::contract {

inline constexpr const char* kProducer = "producer";
inline constexpr const char* kConsumer = "consumer";

// What an adapter provides: storage for two services (kProducer publishes, kConsumer consumes and
// keeps what a consumer keeps) that outlives any bus, and the two store operations a bus relies on.
class EventBusHarness {
 public:
  virtual ~EventBusHarness() = default;
  // A bus over this storage that knows kProducer and kConsumer. The caller stops (or destroys) one
  // bus before asking for the next: that is a restart.
  virtual std::unique_ptr<EventBus> NewBus() = 0;
  // kProducer publishes, durably, as its store does in the transaction of a change.
  virtual void Publish(const std::string& topic, const std::string& payload) = 0;
  // What an effect consumer's store does in one transaction of kConsumer: claims `event` for the
  // subscription `name` and, unless it was claimed before, records the effect. False for a repeat.
  virtual bool ApplyEffect(const std::string& name, const Event& event) = 0;
  // Effects recorded for events with this payload, by every subscription.
  virtual int EffectsFor(const std::string& payload) = 0;
  // The first retry delay of the buses NewBus() makes (short, for tests).
  virtual std::chrono::milliseconds RetryBackoff() const = 0;
};

// Opens (or reopens) an adapter's storage under `dir`.
using EventBusFactory = std::unique_ptr<EventBusHarness> (*)(const std::filesystem::path& dir);

// Records what it is handed; `before` may throw (a failure, MalformedEvent) or block.
class Recorder final : public EventSubscriber {
 public:
  using Before = std::function<void(std::span<const Event> batch, int attempt)>;
  explicit Recorder(std::string name, Before before = {})
      : name_(std::move(name)), before_(std::move(before)) {}
  std::string_view Name() const override { return name_; }
  void Handle(std::span<const Event> batch) override {
    int attempt = 0;
    {
      std::lock_guard lock(mu_);
      attempt = ++attempts_;
      attempt_times_.push_back(std::chrono::steady_clock::now());
    }
    if (before_) before_(batch, attempt);
    std::lock_guard lock(mu_);
    accepted_.insert(accepted_.end(), batch.begin(), batch.end());
  }
  std::vector<Event> accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::size_t accepted_count() const {
    std::lock_guard lock(mu_);
    return accepted_.size();
  }
  std::vector<std::chrono::steady_clock::time_point> attempt_times() const {
    std::lock_guard lock(mu_);
    return attempt_times_;
  }
  // Payloads accepted, first delivery of each id only.
  std::vector<std::string> payloads() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const Event& e : accepted_) {
      if (seen.insert(e.id).second) out.push_back(e.payload);
    }
    return out;
  }

 private:
  std::string name_;
  Before before_;
  mutable std::mutex mu_;
  int attempts_ = 0;
  std::vector<std::chrono::steady_clock::time_point> attempt_times_;
  std::vector<Event> accepted_;
};

class EventBusContract : public ::testing::TestWithParam<EventBusFactory> {
 protected:
  std::unique_ptr<EventBusHarness> Open() { return GetParam()(dir_.path()); }
  EventBusHarness& harness() { return *harness_; }

  static Subscription Effect(EventSubscriber& s, std::vector<std::string> topics = {"t"}) {
    return Subscription{kProducer, std::move(topics), kConsumer, Delivery::kEffect, &s};
  }
  static Subscription Cache(EventSubscriber& s, std::vector<std::string> topics = {"t"}) {
    return Subscription{kProducer, std::move(topics), kConsumer, Delivery::kCacheRefresh, &s};
  }
  // Publishes payloads p<from>..p<to-1> on `topic`.
  void PublishRange(int from, int to, const std::string& topic = "t") {
    for (int i = from; i < to; ++i) harness_->Publish(topic, "p" + std::to_string(i));
  }
  static std::vector<std::string> Range(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back("p" + std::to_string(i));
    return out;
  }

  // A new bus with a healthy claiming effect ("effects") delivers what is left: in the end the
  // effect of each of p0..p<count-1> was applied exactly once.
  void ExpectEveryEffectOnceAfterRecovery(int count) {
    Recorder healthy("effects", [&](std::span<const Event> batch, int) {
      for (const Event& e : batch) harness().ApplyEffect("effects", e);
    });
    auto bus = harness().NewBus();
    bus->Subscribe(Effect(healthy));
    bus->Start();
    EXPECT_TRUE(testing::WaitUntil([&] {
      for (const std::string& p : Range(0, count)) {
        if (harness().EffectsFor(p) == 0) return false;
      }
      return true;
    })) << "every event reached its effect";
    bus->Stop();
    for (const std::string& p : Range(0, count)) EXPECT_EQ(harness().EffectsFor(p), 1) << p;
  }

  rocketmart::testing::TempDir dir_{"contract-events"};
  std::unique_ptr<EventBusHarness> harness_ = Open();
};

TEST_P(EventBusContract, DeliversEveryEventInPublicationOrderPerTopic) {
  Recorder both("both");
  Recorder only_u("only-u");
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(both, {"t", "u"}));
  bus->Subscribe(Effect(only_u, {"u"}));
  bus->Start();
  for (int i = 0; i < 30; ++i) harness().Publish(i % 3 == 0 ? "u" : "t", "p" + std::to_string(i));
  ASSERT_TRUE(testing::WaitUntil([&] { return both.payloads().size() == 30; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return only_u.payloads().size() == 10; }));
  EXPECT_EQ(both.payloads(), Range(0, 30));
  std::vector<std::string> u;
  for (int i = 0; i < 30; i += 3) u.push_back("p" + std::to_string(i));
  EXPECT_EQ(only_u.payloads(), u);
  for (const Event& e : only_u.accepted()) EXPECT_EQ(e.topic, "u");
  std::set<std::string> ids;
  for (const Event& e : both.accepted()) ids.insert(e.id);
  EXPECT_EQ(ids.size(), 30u) << "every event has its own id";
  ASSERT_TRUE(testing::WaitUntil([&] { return bus->Stats(kProducer).backlog == 0; }));
  EXPECT_GE(bus->Stats(kProducer).delivered, 40u);
  bus->Stop();
}

TEST_P(EventBusContract, NothingIsLostAcrossAStopAndAStart) {
  PublishRange(0, 10);
  {
    Recorder first("sub");
    auto bus = harness().NewBus();
    bus->Subscribe(Effect(first));
    bus->Start();
    ASSERT_TRUE(testing::WaitUntil([&] { return first.payloads().size() == 10; }));
    bus->Stop();
  }
  PublishRange(10, 20);  // while no bus runs
  harness_.reset();      // and the storage is closed and opened again
  harness_ = Open();
  Recorder second("sub");
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(second));
  bus->Start();
  PublishRange(20, 25);
  ASSERT_TRUE(testing::WaitUntil([&] { return second.payloads().size() >= 15; }));
  bus->Stop();
  // A position survives a restart: after a clean stop nothing already handed over comes again.
  EXPECT_EQ(second.payloads(), Range(10, 25));
}

TEST_P(EventBusContract, NothingIsLostWhenABusIsStoppedInTheMiddleOfABatch) {
  PublishRange(0, 20);
  {
    // Applies half of its first batch, then the bus is stopped before it returns (as if the
    // process ended there): the batch is not acknowledged.
    std::mutex mu;
    bool stop_now = false;
    std::condition_variable cv;
    Recorder dying("effects", [&](std::span<const Event> batch, int) {
      for (std::size_t i = 0; i < batch.size() / 2; ++i) harness().ApplyEffect("effects", batch[i]);
      std::unique_lock lock(mu);
      stop_now = true;
      cv.notify_all();
      throw std::runtime_error("ended in the middle of the batch");
    });
    auto bus = harness().NewBus();
    bus->Subscribe(Effect(dying));
    bus->Start();
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return stop_now; }));
    }
    bus->Stop();
  }
  ExpectEveryEffectOnceAfterRecovery(20);
}

TEST_P(EventBusContract, NothingIsLostWhenTheProcessIsKilledInTheMiddleOfABatch) {
  PublishRange(0, 20);
  harness_.reset();  // The child opens the storage itself: nothing open is shared across fork.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    try {
      auto harness = GetParam()(dir_.path());
      Recorder dying("effects", [&](std::span<const Event> batch, int) {
        for (std::size_t i = 0; i < batch.size() / 2; ++i)
          harness->ApplyEffect("effects", batch[i]);
        const char byte = 1;
        (void)!::write(ready[1], &byte, 1);
        for (;;) ::pause();  // killed here, in the middle of the batch
      });
      auto bus = harness->NewBus();
      bus->Subscribe(Effect(dying));
      bus->Start();
      for (;;) ::pause();
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(ready[1]);
  char byte = 0;
  const bool signalled = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(signalled) << "the child never reached its batch (exit status " << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status));

  harness_ = Open();
  int applied_before = 0;
  for (const std::string& p : Range(0, 20)) applied_before += harness().EffectsFor(p);
  EXPECT_GT(applied_before, 0) << "the child applied part of its batch";
  EXPECT_LT(applied_before, 20);
  ExpectEveryEffectOnceAfterRecovery(20);
}

TEST_P(EventBusContract, AMalformedEventIsSetAsideAndTheRestIsDelivered) {
  Recorder picky("picky", [](std::span<const Event> batch, int) {
    for (const Event& e : batch) {
      if (e.payload == "bad") throw MalformedEvent(e.id, "no field memberId");
    }
  });
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(picky));
  bus->Start();
  harness().Publish("t", "p0");
  harness().Publish("t", "bad");
  harness().Publish("t", "p1");
  ASSERT_TRUE(testing::WaitUntil([&] { return picky.payloads().size() == 2; }));
  EXPECT_EQ(picky.payloads(), (std::vector<std::string>{"p0", "p1"}));
  ASSERT_TRUE(testing::WaitUntil([&] { return bus->Stats(kProducer).dead_letters == 1; }));
  const auto letters = bus->DeadLetters(kConsumer);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].source, kProducer);
  EXPECT_EQ(letters[0].subscriber, "picky");
  EXPECT_EQ(letters[0].topic, "t");
  EXPECT_EQ(letters[0].payload, "bad");
  EXPECT_EQ(letters[0].reason, "no field memberId");
  EXPECT_FALSE(letters[0].event_id.empty());
  EXPECT_TRUE(bus->DeadLetters(kProducer).empty()) << "kept by the consumer";
  bus->Stop();

  // Not delivered again after a restart, and still listed.
  Recorder after("picky");
  auto again = harness().NewBus();
  again->Subscribe(Effect(after));
  again->Start();
  harness().Publish("t", "p2");
  ASSERT_TRUE(testing::WaitUntil([&] { return after.payloads().size() == 1; }));
  EXPECT_EQ(after.payloads(), (std::vector<std::string>{"p2"}));
  EXPECT_EQ(again->DeadLetters(kConsumer).size(), 1u);
  again->Stop();
}

TEST_P(EventBusContract, AThrowingSubscriberGetsTheSameEventsAgainAfterABackoff) {
  Recorder flaky("flaky", [](std::span<const Event>, int attempt) {
    if (attempt <= 3) throw std::runtime_error("downstream unavailable");
  });
  PublishRange(0, 5);
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(flaky));
  bus->Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return flaky.payloads().size() == 5; }));
  EXPECT_EQ(flaky.payloads(), Range(0, 5));
  const auto times = flaky.attempt_times();
  ASSERT_GE(times.size(), 4u);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_GE(times[i] - times[i - 1], harness().RetryBackoff()) << "attempt " << i + 1;
  }
  EXPECT_GE(bus->Stats(kProducer).failures, 3u);
  bus->Stop();
}

TEST_P(EventBusContract, ARedeliveryAfterAFailureHasNoSecondEffectForAClaimingEffect) {
  Recorder effect("effects", [&](std::span<const Event> batch, int attempt) {
    for (const Event& e : batch) harness().ApplyEffect("effects", e);
    if (attempt == 1) throw std::runtime_error("failed after its effects committed");
  });
  PublishRange(0, 10);
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(effect));
  bus->Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return effect.payloads().size() == 10; }));
  bus->Stop();
  EXPECT_GE(effect.attempt_times().size(), 2u) << "the failed batch came again";
  for (const std::string& p : Range(0, 10)) EXPECT_EQ(harness().EffectsFor(p), 1) << p;
}

TEST_P(EventBusContract, AnEffectsInstancesShareItAndEachEventGoesToOne) {
  Recorder a("effects"), b("effects");
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(a));
  bus->Subscribe(Effect(b));
  bus->Start();
  for (int i = 0; i < 40; ++i) harness().Publish("t", "p" + std::to_string(i));
  ASSERT_TRUE(testing::WaitUntil([&] { return a.payloads().size() + b.payloads().size() == 40; }));
  bus->Stop();
  std::vector<std::string> all = a.payloads();
  const auto from_b = b.payloads();
  all.insert(all.end(), from_b.begin(), from_b.end());
  std::sort(all.begin(), all.end());
  auto expected = Range(0, 40);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected) << "each event to exactly one instance";
}

TEST_P(EventBusContract, EveryCacheRefreshInstanceSeesEveryEvent) {
  Recorder first("cache.instance-1"), second("cache.instance-2");
  auto bus = harness().NewBus();
  bus->Subscribe(Cache(first));
  bus->Subscribe(Cache(second));
  bus->Start();
  PublishRange(0, 25);
  ASSERT_TRUE(testing::WaitUntil([&] { return first.payloads().size() == 25; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return second.payloads().size() == 25; }));
  bus->Stop();
  EXPECT_EQ(first.payloads(), Range(0, 25));
  EXPECT_EQ(second.payloads(), Range(0, 25));
}

TEST_P(EventBusContract, SubscriptionsItCannotHonourAreRefused) {
  Recorder a("a"), b("a"), c("c");
  auto bus = harness().NewBus();
  bus->Subscribe(Effect(a));
  EXPECT_THROW(bus->Subscribe(Cache(b)), std::invalid_argument) << "a name is one subscription";
  EXPECT_THROW(bus->Subscribe(Effect(c, {})), std::invalid_argument) << "no topic";
  EXPECT_THROW(bus->Subscribe(Subscription{"nobody", {"t"}, kConsumer, Delivery::kEffect, &c}),
               std::invalid_argument);
  bus->Start();
  EXPECT_THROW(bus->Subscribe(Effect(c)), std::logic_error) << "before Start only";
  bus->Stop();
  bus->Stop();  // idempotent
}

}  // namespace rocketmart::events::contract

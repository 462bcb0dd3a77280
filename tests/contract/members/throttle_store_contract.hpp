// Contract of the ThrottleStore port (services/members/ports/throttle_store.hpp), checked only
// through the port.
//
// The promise: a window lets exactly `limit` events through per key and window and says when it
// ends; a back-off key lets `free_failures` + 1 attempts through, then locks out for doubling
// delays up to the maximum, forgets attempts `memory` after the last, takes one back when
// forgiven and everything on reset; keys and instances over one store share nothing but the
// store: an event counted on one instance counts on all; every count is one atomic
// check-and-increment, so parallel callers on several instances never get more through than the
// rule allows, and a refused call counts nothing.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/async/run.hpp"
#include "services/members/ports/throttle_store.hpp"

namespace rocketmart::members::contract {

class ThrottleFixture {
 public:
  virtual ~ThrottleFixture() = default;
  // An instance over the fixture's store (a second call: another process's instance where the
  // adapter has such a thing).
  virtual ThrottleStore& Open() = 0;
  virtual FakeClock& clock() = 0;
};

using ThrottleFactory = std::unique_ptr<ThrottleFixture> (*)();

class ThrottleStoreContract : public ::testing::TestWithParam<ThrottleFactory> {
 protected:
  using seconds = std::chrono::seconds;
  void SetUp() override { fixture_ = GetParam()(); }

  // nullopt = went ahead; otherwise the wait. A store error fails the test.
  ThrottleVerdict Acquire(ThrottleStore& store, const std::string& key, WindowRule rule) {
    auto r = async::RunToCompletion(store.Acquire(key, rule, fixture_->clock().Now()));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ThrottleVerdict(seconds{-1});
  }
  ThrottleVerdict Attempt(ThrottleStore& store, const std::string& key, BackoffRule rule) {
    auto r = async::RunToCompletion(store.Attempt(key, rule, fixture_->clock().Now()));
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ThrottleVerdict(seconds{-1});
  }
  void Forgive(ThrottleStore& store, const std::string& key) {
    auto st = async::RunToCompletion(store.Forgive(key));
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  void Reset(ThrottleStore& store, const std::string& key) {
    auto st = async::RunToCompletion(store.Reset(key));
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  void Advance(seconds d) { fixture_->clock().Advance(d); }

  static constexpr WindowRule kThreePerHour{3, seconds{3600}};
  static constexpr BackoffRule kTwoFree{.free_failures = 2,
                                        .base_delay = seconds{1},
                                        .max_delay = seconds{4},
                                        .memory = seconds{600}};

  std::unique_ptr<ThrottleFixture> fixture_;
};

TEST_P(ThrottleStoreContract, AWindowLetsTheLimitThroughThenSaysWhenItEnds) {
  ThrottleStore& store = fixture_->Open();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), seconds{3600});
  Advance(seconds{1800});
  EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), seconds{1800});
  Advance(seconds{1799});
  EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), seconds{1});
  Advance(seconds{1});
  // A new window: the refused calls counted nothing, so the whole limit is there again.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_TRUE(Acquire(store, "mail:a", kThreePerHour).has_value());
}

TEST_P(ThrottleStoreContract, AWaitIsWholeSecondsRoundedUp) {
  ThrottleStore& store = fixture_->Open();
  EXPECT_EQ(Acquire(store, "k", {1, seconds{10}}), std::nullopt);
  fixture_->clock().Advance(std::chrono::milliseconds{9500});
  EXPECT_EQ(Acquire(store, "k", {1, seconds{10}}), seconds{1});  // 0.5 s left: wait 1 s
}

TEST_P(ThrottleStoreContract, KeysAreCountedApart) {
  ThrottleStore& store = fixture_->Open();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Acquire(store, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_EQ(Acquire(store, "mail:b", kThreePerHour), std::nullopt);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:a", kTwoFree), std::nullopt);
  EXPECT_EQ(Attempt(store, "login:b", kTwoFree), std::nullopt);
}

TEST_P(ThrottleStoreContract, BackOffLetsTheFreeAttemptsThroughThenDoublesUpToTheCap) {
  ThrottleStore& store = fixture_->Open();
  // Two free attempts, and the third (the one that exceeds them) is checked and starts 1 s.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), seconds{1});
  Advance(seconds{1});
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);  // the fourth: 2 s
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), seconds{2});
  Advance(seconds{2});
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);  // the fifth: 4 s
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), seconds{4});
  Advance(seconds{4});
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);  // the sixth: capped at 4 s
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), seconds{4});
}

TEST_P(ThrottleStoreContract, BackOffForgetsAttemptsOnceTheMemoryPassed) {
  ThrottleStore& store = fixture_->Open();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);
  Advance(seconds{599});
  EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);  // third: starts a lockout
  EXPECT_TRUE(Attempt(store, "login:x", kTwoFree).has_value());
  Advance(seconds{600});  // the memory, counted from the last attempt
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);
  EXPECT_TRUE(Attempt(store, "login:x", kTwoFree).has_value());
}

TEST_P(ThrottleStoreContract, AForgivenAttemptIsTakenBack) {
  ThrottleStore& store = fixture_->Open();
  // Right passwords from one address never add up to a lockout.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Attempt(store, "login:ip", kTwoFree), std::nullopt);
    Forgive(store, "login:ip");
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:ip", kTwoFree), std::nullopt);
  EXPECT_EQ(Attempt(store, "login:ip", kTwoFree), seconds{1});
  // Forgiving the attempt that started the lockout lifts it (back within the free ones).
  Forgive(store, "login:ip");
  EXPECT_EQ(Attempt(store, "login:ip", kTwoFree), std::nullopt);
  Forgive(store, "never-seen");  // harmless
}

TEST_P(ThrottleStoreContract, ResetForgetsTheKey) {
  ThrottleStore& store = fixture_->Open();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);
  ASSERT_TRUE(Attempt(store, "login:x", kTwoFree).has_value());
  Reset(store, "login:x");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Attempt(store, "login:x", kTwoFree), std::nullopt);
  Reset(store, "never-seen");  // harmless
}

TEST_P(ThrottleStoreContract, EveryInstanceCountsAgainstTheSameStore) {
  ThrottleStore& a = fixture_->Open();
  ThrottleStore& b = fixture_->Open();
  EXPECT_EQ(Acquire(a, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_EQ(Acquire(b, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_EQ(Acquire(a, "mail:a", kThreePerHour), std::nullopt);
  EXPECT_TRUE(Acquire(b, "mail:a", kThreePerHour).has_value());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Attempt(i % 2 ? a : b, "login:x", kTwoFree), std::nullopt);
  }
  EXPECT_TRUE(Attempt(a, "login:x", kTwoFree).has_value());
  Reset(b, "login:x");
  EXPECT_EQ(Attempt(a, "login:x", kTwoFree), std::nullopt);
}

// Concurrency: callers released together on two instances, the clock standing still.
TEST_P(ThrottleStoreContract, ParallelCallersNeverGetMoreThroughThanTheRule) {
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 25;
  ThrottleStore& a = fixture_->Open();
  ThrottleStore& b = fixture_->Open();
  const WindowRule window{37, seconds{3600}};
  const BackoffRule backoff{.free_failures = 5,
                            .base_delay = seconds{60},
                            .max_delay = seconds{900},
                            .memory = seconds{3600}};
  std::atomic<int> acquired{0};
  std::atomic<int> attempted{0};
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ThrottleStore& store = t % 2 ? a : b;
      start.arrive_and_wait();
      for (int i = 0; i < kCallsEach; ++i) {
        if (Acquire(store, "signup:ip", window) == std::nullopt) acquired.fetch_add(1);
        if (Attempt(store, "login:acct", backoff) == std::nullopt) attempted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acquired.load(), 37);
  EXPECT_EQ(attempted.load(), 6);  // five free, and the one that started the lockout
}

}  // namespace rocketmart::members::contract

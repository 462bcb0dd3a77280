// Contract of the request rate limiter port (services/gateway/ports/request_rate_limiter.hpp),
// checked only through RequestRateLimiter.
//
// The promise: per key, GCRA with the call's rate and burst: `burst` requests at once from idle,
// then one per interval; a call counts against every key or, refused, against none, and names the
// first key refused and the time until every refused key allows one more; keys are independent
// (a member and an address never share a budget; IPv4 and its IPv4-mapped IPv6 form are one
// address, an IPv6 /64 is one address); parallel callers on one key get exactly its budget; two
// instances over one store share every key's budget; TryAcquireNow, when it answers, counts as
// Acquire does, and when it does not, counts nothing.
//
// Time: a fixture whose store has a clock of its own (Redis's TIME) lets time pass for real;
// the rates below keep each wait under a second and every burst far inside one interval.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "infra/async/run.hpp"
#include "services/gateway/ports/request_rate_limiter.hpp"

namespace rocketmart::gateway::contract {

// Owns the store and every instance opened over it.
class RateLimiterFixture {
 public:
  virtual ~RateLimiterFixture() = default;
  // An instance over the fixture's store; each call opens another one where the adapter has such
  // a thing (a second gateway process). The first call opens the first.
  virtual RequestRateLimiter& Open() = 0;
  // Lets `d` pass for the limiter: the injected clock, or real time for a store with its own.
  virtual void Advance(std::chrono::microseconds d) = 0;
  // Capability: Open() gives separate instances over one shared store (false: one object).
  virtual bool separate_instances() const = 0;
};

using RateLimiterFactory = std::unique_ptr<RateLimiterFixture> (*)();

class RequestRateLimiterContract : public ::testing::TestWithParam<RateLimiterFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam()(); }

  static RateVerdict Acquire(RequestRateLimiter& limiter, std::vector<RateCheck> checks) {
    const std::span<const RateCheck> span(checks);
    Result<RateVerdict> verdict = async::RunToCompletion(limiter.Acquire(span));
    EXPECT_TRUE(verdict.ok()) << verdict.error().message;
    return verdict.ok() ? *verdict : RateVerdict{};
  }
  static RateVerdict One(RequestRateLimiter& limiter, const RateKey& key, RateLimit limit) {
    return Acquire(limiter, {RateCheck{key, limit}});
  }
  // How many of `n` calls on `key` are allowed.
  static int Allowed(RequestRateLimiter& limiter, const RateKey& key, RateLimit limit, int n) {
    int allowed = 0;
    for (int i = 0; i < n; ++i) allowed += One(limiter, key, limit).allowed() ? 1 : 0;
    return allowed;
  }

  // 2 per second (an interval of 500 ms), 3 at once.
  static constexpr RateLimit kLimit{.per_second = 2, .burst = 3};
  static constexpr std::chrono::microseconds kInterval{500'000};

  std::unique_ptr<RateLimiterFixture> fixture_;
};

inline boost::asio::ip::address Ip(const char* text) {
  return boost::asio::ip::make_address(text);
}

TEST_P(RequestRateLimiterContract, ABurstIsAllowedFromIdleThenTheNextIsRefusedWithAWait) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateKey key = RateKey::Member(7);
  EXPECT_EQ(Allowed(limiter, key, kLimit, 3), 3);
  const RateVerdict refused = One(limiter, key, kLimit);
  ASSERT_FALSE(refused.allowed());
  EXPECT_EQ(refused.refused, 0);
  EXPECT_GT(refused.retry_after, std::chrono::microseconds(0));
  EXPECT_LE(refused.retry_after, kInterval);
}

TEST_P(RequestRateLimiterContract, ARefusalCountsNothingAndTheWaitItNamesIsEnough) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateKey key = RateKey::Member(7);
  EXPECT_EQ(Allowed(limiter, key, kLimit, 3), 3);
  RateVerdict refused = One(limiter, key, kLimit);
  for (int i = 0; i < 5; ++i) refused = One(limiter, key, kLimit);  // refused again and again
  ASSERT_FALSE(refused.allowed());
  fixture_->Advance(refused.retry_after + std::chrono::milliseconds(20));
  // Exactly one came back: the refusals did not push the key further out.
  EXPECT_TRUE(One(limiter, key, kLimit).allowed());
  EXPECT_FALSE(One(limiter, key, kLimit).allowed());
}

TEST_P(RequestRateLimiterContract, TheBudgetRefillsAtTheRateUpToTheBurst) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateKey key = RateKey::Member(7);
  EXPECT_EQ(Allowed(limiter, key, kLimit, 3), 3);
  fixture_->Advance(2 * kInterval + std::chrono::milliseconds(20));
  EXPECT_EQ(Allowed(limiter, key, kLimit, 3), 2);
  // A long pause refills the burst, never more.
  fixture_->Advance(4 * kInterval);
  EXPECT_EQ(Allowed(limiter, key, kLimit, 5), 3);
}

TEST_P(RequestRateLimiterContract, KeysAreIndependent) {
  RequestRateLimiter& limiter = fixture_->Open();
  EXPECT_EQ(Allowed(limiter, RateKey::Member(1), kLimit, 4), 3);
  EXPECT_EQ(Allowed(limiter, RateKey::Member(2), kLimit, 4), 3);
  // An address whose bytes could be read as member 1 is another key.
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("0.0.0.1")), kLimit, 4), 3);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("192.0.2.1")), kLimit, 4), 3);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("192.0.2.2")), kLimit, 4), 3);
}

TEST_P(RequestRateLimiterContract, AnAddressIsOneKeyInEitherFormAndIPv6CountsPerSlash64) {
  RequestRateLimiter& limiter = fixture_->Open();
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("192.0.2.9")), kLimit, 2), 2);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("::ffff:192.0.2.9")), kLimit, 2), 1);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("2001:db8:1:2::1")), kLimit, 2), 2);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("2001:db8:1:2:ffff::7")), kLimit, 2), 1);
  EXPECT_EQ(Allowed(limiter, RateKey::Address(Ip("2001:db8:1:3::1")), kLimit, 2), 2);  // next /64
}

TEST_P(RequestRateLimiterContract, ACallCountsAgainstEveryKeyOrNone) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateKey spent = RateKey::Address(Ip("192.0.2.1"));
  const RateKey fresh = RateKey::Member(42);
  EXPECT_EQ(Allowed(limiter, spent, kLimit, 3), 3);
  for (int i = 0; i < 5; ++i) {
    const RateVerdict v = Acquire(limiter, {{fresh, kLimit}, {spent, kLimit}});
    ASSERT_FALSE(v.allowed());
    EXPECT_EQ(v.refused, 1);  // the index of the key that refused
  }
  // The member's budget was not touched by the refused calls.
  EXPECT_EQ(Allowed(limiter, fresh, kLimit, 4), 3);
  // Allowed together: both counted.
  const RateKey a = RateKey::Member(100);
  const RateKey b = RateKey::Member(101);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Acquire(limiter, {{a, kLimit}, {b, kLimit}}).allowed());
  EXPECT_FALSE(One(limiter, a, kLimit).allowed());
  EXPECT_FALSE(One(limiter, b, kLimit).allowed());
}

TEST_P(RequestRateLimiterContract, TheWaitIsTheLongestOfTheRefusedKeys) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateLimit slow{.per_second = 1, .burst = 1};  // an interval of 1 s
  const RateKey a = RateKey::Member(1);
  const RateKey b = RateKey::Member(2);
  EXPECT_TRUE(One(limiter, a, kLimit).allowed());
  EXPECT_EQ(Allowed(limiter, a, kLimit, 2), 2);
  EXPECT_TRUE(One(limiter, b, slow).allowed());
  const RateVerdict v = Acquire(limiter, {{a, kLimit}, {b, slow}});
  ASSERT_FALSE(v.allowed());
  EXPECT_EQ(v.refused, 0);
  EXPECT_GT(v.retry_after, kInterval);  // b's wait (about 1 s), not a's (about 500 ms)
  EXPECT_LE(v.retry_after, std::chrono::seconds(1));
}

TEST_P(RequestRateLimiterContract, ParallelCallersOnOneKeyGetExactlyItsBudget) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateLimit limit{.per_second = 1, .burst = 20};  // 1 s per refill: far beyond the race
  const RateKey key = RateKey::Address(Ip("198.51.100.1"));
  constexpr int kThreads = 8;
  constexpr int kCalls = 10;
  std::atomic<int> allowed{0};
  std::barrier start(kThreads);
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kCalls; ++i) allowed += One(limiter, key, limit).allowed() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  const auto took = std::chrono::steady_clock::now() - began;
  // Real time may refill one per second it took (a store with its own clock); never less.
  EXPECT_GE(allowed.load(), 20);
  EXPECT_LE(allowed.load(), 20 + std::chrono::duration_cast<std::chrono::seconds>(took).count());
}

TEST_P(RequestRateLimiterContract, TwoInstancesOverOneStoreShareEveryBudget) {
  if (!fixture_->separate_instances()) {
    GTEST_SKIP() << "one process: every instance is the same object";
  }
  RequestRateLimiter& first = fixture_->Open();
  RequestRateLimiter& second = fixture_->Open();
  const RateKey key = RateKey::Member(9);
  EXPECT_EQ(Allowed(first, key, kLimit, 2), 2);
  EXPECT_EQ(Allowed(second, key, kLimit, 2), 1);
  EXPECT_FALSE(One(first, key, kLimit).allowed());
}

TEST_P(RequestRateLimiterContract, TryAcquireNowCountsAsAcquireOrCountsNothing) {
  RequestRateLimiter& limiter = fixture_->Open();
  const RateKey key = RateKey::Member(5);
  const std::vector<RateCheck> checks = {{key, kLimit}};
  const std::span<const RateCheck> span(checks);
  int now_allowed = 0;
  for (int i = 0; i < 2; ++i) {
    std::optional<Result<RateVerdict>> v = limiter.TryAcquireNow(span);
    if (!v) continue;  // it would have to wait: nothing counted
    ASSERT_TRUE(v->ok());
    now_allowed += (*v)->allowed() ? 1 : 0;
  }
  EXPECT_EQ(Allowed(limiter, key, kLimit, 4), 3 - now_allowed);
}

}  // namespace rocketmart::gateway::contract

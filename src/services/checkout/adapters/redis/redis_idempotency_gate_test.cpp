// RedisIdempotencyGate beyond the port's contract (tests/contract/checkout: the whole suite runs on
// it): what Redis adds. Each test starts its own redis-server (tests/support/local_redis.*) and
// opens two gates, each with its own loop, client and subscription: two checkout instances.
//  - Redis stopped: Enter answers kFirst at once (counted), never hangs nor fails the request;
//    once Redis is back the gate orders requests again;
//  - a claim whose instance died (never left) expires after its TTL, and a duplicate waiting on
//    another instance notices it by its own look (no message comes), before its bound;
//  - how fast a Leave wakes a duplicate on the other instance (pub/sub), and what one
//    Enter + Leave costs (printed; the bounds asserted are generous, the machine is shared).
#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "infra/async/run.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::checkout {
namespace {

using Role = IdempotencyGate::Role;
using SteadyClock = std::chrono::steady_clock;

template <class T>
T Await(boost::asio::awaitable<T> task) {
  return async::RunToCompletion(std::move(task));
}

struct Instance {
  Instance(const std::string& url, RedisIdempotencyGateOptions options)
      : client({loop.executor()}, redis::ParseEndpoint(url).value()),
        gate(client, loop.executor(), metrics, std::move(options)) {}
  // Until the subscription is confirmed (a Leave's message then reaches this instance).
  bool WaitSubscribed() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (!gate.subscribed()) {
      if (SteadyClock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
    }
    return true;
  }
  void SyncLeaves() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (gate.leaves_pending() > 0 && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
    }
  }
  redis::IoThread loop{"redis-gate"};
  redis::Client client;
  metrics::Registry metrics;
  RedisIdempotencyGate gate;
};

class RedisIdempotencyGateTest : public ::testing::Test {
 protected:
  RedisIdempotencyGateOptions Options() const {
    RedisIdempotencyGateOptions o;
    o.prefix = testing::NewKeyPrefix();
    return o;
  }
  testing::LocalRedis redis_;
};

TEST_F(RedisIdempotencyGateTest, RedisDownEnterLetsTheRequestThroughAtOnceAndCountsIt) {
  Instance a(redis_.tcp_url(), Options());
  const auto before = Await(a.gate.Enter(7, "k", "hash"));
  ASSERT_EQ(before.role, Role::kFirst);
  a.gate.Leave(7, "k", before);
  a.SyncLeaves();

  redis_.Stop();
  SteadyClock::duration slowest{};
  for (int i = 0; i < 20; ++i) {
    const auto asked = SteadyClock::now();
    const auto t = Await(a.gate.Enter(7, "k", "hash"));
    slowest = std::max(slowest, SteadyClock::now() - asked);
    EXPECT_EQ(t.role, Role::kFirst) << "the durable record decides while Redis is down";
    a.gate.Leave(7, "k", t);  // nothing to release: no claim was made
    EXPECT_TRUE(Await(a.gate.Wait(t, std::chrono::seconds(5)))) << "no claim to wait for";
  }
  EXPECT_EQ(a.gate.unavailable(), 20u);
  EXPECT_EQ(a.gate.leaves_pending(), 0);
  EXPECT_LE(slowest, std::chrono::milliseconds(1500)) << "bounded by the client's deadline";
  EXPECT_NE(a.metrics.RenderPrometheus().find("checkout_idempotency_gate_unavailable_total 20"),
            std::string::npos);

  redis_.Start();
  // The same gate orders requests again once its client reconnected (a claim is made).
  IdempotencyGate::Ticket first;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  for (std::uint64_t seen = a.gate.unavailable(); SteadyClock::now() < deadline;
       seen = a.gate.unavailable()) {
    first = Await(a.gate.Enter(8, "back", "hash"));
    if (a.gate.unavailable() == seen) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the client's backoff
  }
  ASSERT_EQ(first.role, Role::kFirst);
  EXPECT_EQ(Await(a.gate.Enter(8, "back", "hash")).role, Role::kDuplicate);
  EXPECT_EQ(Await(a.gate.Enter(8, "back", "other")).role, Role::kMismatch);
  a.gate.Leave(8, "back", first);
}

TEST_F(RedisIdempotencyGateTest, ADeadInstancesClaimExpiresAndItsWaiterNoticesBeforeItsBound) {
  RedisIdempotencyGateOptions options = Options();
  options.claim_ttl = std::chrono::milliseconds(300);
  auto dead = std::make_unique<Instance>(redis_.tcp_url(), options);
  Instance alive(redis_.tcp_url(), options);
  const auto claimed = Await(dead->gate.Enter(7, "k", "hash"));
  ASSERT_EQ(claimed.role, Role::kFirst);
  dead.reset();  // the instance is gone without leaving: no message will come

  const auto duplicate = Await(alive.gate.Enter(7, "k", "hash"));
  ASSERT_EQ(duplicate.role, Role::kDuplicate);
  const auto started = SteadyClock::now();
  EXPECT_TRUE(Await(alive.gate.Wait(duplicate, std::chrono::seconds(10))));
  const auto waited = SteadyClock::now() - started;
  EXPECT_LT(waited, std::chrono::seconds(3)) << "the claim's TTL (0.3 s) + a look (<= 1 s)";
  const auto next = Await(alive.gate.Enter(7, "k", "other"));
  EXPECT_EQ(next.role, Role::kFirst) << "the expired claim no longer holds the key";
  alive.gate.Leave(7, "k", next);
  std::printf("dead instance's claim (ttl 300 ms) noticed after %.0f ms\n",
              std::chrono::duration<double, std::milli>(waited).count());
}

TEST_F(RedisIdempotencyGateTest, ALeaveWakesTheDuplicateOnTheOtherInstanceByItsMessage) {
  RedisIdempotencyGateOptions options = Options();
  // The waiter's own look only after 10 s: what wakes it here is the Leave's message.
  options.poll_initial = std::chrono::seconds(10);
  options.poll_max = std::chrono::seconds(10);
  Instance a(redis_.tcp_url(), options);
  Instance b(redis_.tcp_url(), options);
  ASSERT_TRUE(b.WaitSubscribed());
  constexpr int kRounds = 50;
  std::vector<double> wake_ms;
  for (int i = 0; i < kRounds; ++i) {
    const std::string key = "k" + std::to_string(i);
    const auto first = Await(a.gate.Enter(7, key, "hash"));
    ASSERT_EQ(first.role, Role::kFirst);
    const auto duplicate = Await(b.gate.Enter(7, key, "hash"));
    ASSERT_EQ(duplicate.role, Role::kDuplicate);
    std::atomic<bool> parked{false};
    bool woke = false;
    SteadyClock::time_point woke_at;
    std::thread waiter([&] {
      parked = true;
      woke = Await(b.gate.Wait(duplicate, std::chrono::seconds(20)));
      woke_at = SteadyClock::now();
    });
    while (!parked) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it park and look once
    const auto left = SteadyClock::now();
    a.gate.Leave(7, key, first);
    waiter.join();
    ASSERT_TRUE(woke);
    wake_ms.push_back(std::chrono::duration<double, std::milli>(woke_at - left).count());
  }
  std::sort(wake_ms.begin(), wake_ms.end());
  const double p50 = wake_ms[kRounds / 2], p99 = wake_ms[kRounds * 99 / 100];
  std::printf("duplicate woken on the other instance after a Leave: p50 %.2f ms, p99 %.2f ms\n",
              p50, p99);
  EXPECT_LT(p99, 1000.0) << "woken by the message, not by its own look (10 s)";

  // What the gate costs a request with an Idempotency-Key: Enter awaited, Leave sent after.
  constexpr int kRequests = 2000;
  const auto started = SteadyClock::now();
  for (int i = 0; i < kRequests; ++i) {
    const std::string key = "c" + std::to_string(i);
    const auto t = Await(a.gate.Enter(9, key, "hash"));
    ASSERT_EQ(t.role, Role::kFirst);
    a.gate.Leave(9, key, t);
  }
  a.SyncLeaves();
  const double us =
      std::chrono::duration<double, std::micro>(SteadyClock::now() - started).count() / kRequests;
  std::printf("Enter + Leave, one at a time: %.1f us per request\n", us);
  EXPECT_EQ(a.gate.leaves_lost(), 0u);
}

}  // namespace
}  // namespace rocketmart::checkout

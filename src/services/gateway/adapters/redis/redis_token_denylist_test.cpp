// RedisTokenDenylist beyond its contract: a denial published while another instance's subscription
// was down reaches it through the reload after it resubscribed; and what the per-request check
// costs (printed, and recorded as a test property).
#include "services/gateway/adapters/redis/redis_token_denylist.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>

#include "infra/async/run.hpp"
#include "support/local_redis.hpp"
#include "support/wait.hpp"

namespace rocketmart::gateway {
namespace {

using namespace std::chrono_literals;

struct Instance {
  Instance(const testing::LocalRedis& server, const Clock& clock, const std::string& prefix)
      : client({loop.executor()}, redis::ParseEndpoint(server.tcp_url()).value()),
        denylist(client, loop.executor(), clock, prefix) {
    denylist.Start();
  }
  ~Instance() {
    denylist.Stop();
    client.Close();
  }
  redis::IoThread loop{"redis-gateway"};
  redis::Client client;
  RedisTokenDenylist denylist;
};

TEST(RedisTokenDenylist, ADenialMissedWhileUnsubscribedArrivesWithTheReload) {
  testing::LocalRedis server;
  FakeClock clock;
  Instance a(server, clock, "p:"), b(server, clock, "p:");
  ASSERT_TRUE(a.denylist.WaitLoaded(5s));
  ASSERT_TRUE(b.denylist.WaitLoaded(5s));
  const auto reloads = b.denylist.reloads();
  // b's loop is held while both subscriber connections are cut and a denies: the message reaches
  // nobody, and b cannot resubscribe before it was published.
  std::promise<void> hold;
  std::shared_future<void> held = hold.get_future().share();
  boost::asio::post(b.loop.executor(), [held] { held.wait(); });
  EXPECT_NE(server.Command({"CLIENT", "KILL", "TYPE", "pubsub"}), "0");
  ASSERT_TRUE(async::RunToCompletion(a.denylist.DenyToken(7, "fam.x", clock.Now() + 10min)).ok());
  EXPECT_TRUE(a.denylist.IsRevoked(7, "fam.x", clock.Now())) << "its own instance at once";
  EXPECT_FALSE(b.denylist.IsRevoked(7, "fam.x", clock.Now()));
  hold.set_value();
  // The denial is visible as soon as the reload applies its first reply; the reload is counted
  // only after its last one, so both are awaited rather than read one after the other.
  EXPECT_TRUE(
      testing::WaitUntil([&] { return b.denylist.IsRevoked(7, "fam.x", clock.Now()); }, 1s));
  EXPECT_TRUE(testing::WaitUntil([&] { return b.denylist.reloads() > reloads; }, 1s))
      << "learnt by reloading after it resubscribed";
}

TEST(RedisTokenDenylist, ACheckCostsALookupInMemory) {
  testing::LocalRedis server;
  FakeClock clock;
  Instance a(server, clock, "p:");
  ASSERT_TRUE(a.denylist.WaitLoaded(5s));
  for (int m = 0; m < 1000; ++m) {
    ASSERT_TRUE(async::RunToCompletion(a.denylist.DenyFamily(m, "fam", clock.Now() + 10min)).ok());
  }
  constexpr int kChecks = 1'000'000;
  int revoked = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kChecks; ++i) {
    revoked += a.denylist.IsRevoked(i % 2000, "fam2.abc", clock.Now()) ? 1 : 0;
  }
  const auto ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      kChecks;
  EXPECT_EQ(revoked, 0);
  std::printf("IsRevoked: %.1f ns per check (1,000 members with denials)\n", ns);
  RecordProperty("ns_per_check", std::to_string(ns));
}

}  // namespace
}  // namespace rocketmart::gateway

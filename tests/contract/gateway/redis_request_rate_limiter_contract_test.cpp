// The rate limiter contract for the Redis adapter: each Open() is another gateway instance (its
// own client and event loop) over one real redis-server (tests/support/local_redis.*), the
// fixture's keys under a prefix of its own. The script reads Redis's clock: time passes for real.
#include <memory>
#include <thread>
#include <vector>

#include "infra/redis/client.hpp"
#include "request_rate_limiter_contract.hpp"
#include "services/gateway/adapters/redis/redis_rate_limiter.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::gateway::contract {
namespace {

class RedisRateLimiterFixture final : public RateLimiterFixture {
 public:
  RequestRateLimiter& Open() override {
    auto& server = rocketmart::testing::SharedLocalRedis();
    instances_.push_back(std::make_unique<Instance>(server.tcp_url(), prefix_));
    return instances_.back()->limiter;
  }
  void Advance(std::chrono::microseconds d) override { std::this_thread::sleep_for(d); }
  bool separate_instances() const override { return true; }

 private:
  struct Instance {
    Instance(const std::string& url, const std::string& prefix)
        : client({loop.executor()}, redis::ParseEndpoint(url).value()), limiter(client, prefix) {}
    ~Instance() { client.Close(); }
    redis::IoThread loop{"redis-gateway"};
    redis::Client client;
    RedisRateLimiter limiter;
  };
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<RateLimiterFixture> MakeRedisRateLimiter() {
  return std::make_unique<RedisRateLimiterFixture>();
}

INSTANTIATE_TEST_SUITE_P(Redis, RequestRateLimiterContract,
                         ::testing::Values(&MakeRedisRateLimiter));

}  // namespace
}  // namespace rocketmart::gateway::contract

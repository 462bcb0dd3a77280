// The ThrottleStore contract for the Redis adapter: every instance Open() returns is another
// client (its own connection and event loop, as another members process would have) over one real
// redis-server (tests/support/local_redis.*), the fixture's keys under a prefix of its own.
#include <memory>
#include <vector>

#include "infra/redis/client.hpp"
#include "services/members/adapters/redis/redis_throttle_store.hpp"
#include "support/local_redis.hpp"
#include "throttle_store_contract.hpp"

namespace rocketmart::members::contract {
namespace {

class RedisThrottleFixture final : public ThrottleFixture {
 public:
  ThrottleStore& Open() override {
    auto& server = rocketmart::testing::SharedLocalRedis();
    auto instance = std::make_unique<Instance>(server.tcp_url(), prefix_);
    instances_.push_back(std::move(instance));
    return instances_.back()->store;
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    Instance(const std::string& url, const std::string& prefix)
        : client({loop.executor()}, redis::ParseEndpoint(url).value()), store(client, prefix) {}
    redis::IoThread loop{"redis-members"};
    redis::Client client;
    RedisThrottleStore store;
  };
  FakeClock clock_;
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<ThrottleFixture> MakeRedisThrottles() {
  return std::make_unique<RedisThrottleFixture>();
}

INSTANTIATE_TEST_SUITE_P(Redis, ThrottleStoreContract, ::testing::Values(&MakeRedisThrottles));

}  // namespace
}  // namespace rocketmart::members::contract

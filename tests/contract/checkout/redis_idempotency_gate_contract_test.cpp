// The IdempotencyGate contract for the Redis adapter (services/checkout/adapters/redis): every
// gate Open() returns is another checkout instance's (its own event loop, Redis client and
// subscription) over one real redis-server (tests/support/local_redis.*), the fixture's keys and
// channel under a prefix of its own. Sync() waits until every instance's Leaves were answered.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "contract/checkout/idempotency_gate_contract.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::checkout::contract {
namespace {

class RedisGateFixture final : public IdempotencyGateFixture {
 public:
  IdempotencyGate& Open() override {
    auto& server = rocketmart::testing::SharedLocalRedis();
    instances_.push_back(std::make_unique<Instance>(server.tcp_url(), prefix_));
    return instances_.back()->gate;
  }
  bool SharedByInstances() const override { return true; }

  void Sync() override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (auto& i : instances_) {
      while (i->gate.leaves_pending() > 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw std::runtime_error("leaves still pending after 10 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_EQ(i->gate.leaves_lost(), 0u);
      EXPECT_EQ(i->gate.unavailable(), 0u);
    }
  }

 private:
  struct Instance {
    Instance(const std::string& url, const std::string& prefix)
        : client({loop.executor()}, redis::ParseEndpoint(url).value()),
          gate(client, loop.executor(), metrics, RedisIdempotencyGateOptions{.prefix = prefix}) {}
    redis::IoThread loop{"redis-gate"};
    redis::Client client;
    metrics::Registry metrics;
    RedisIdempotencyGate gate;
  };
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<IdempotencyGateFixture> MakeRedisGate() {
  return std::make_unique<RedisGateFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Redis, IdempotencyGateContract, ::testing::Values(&MakeRedisGate));

}  // namespace rocketmart::checkout::contract

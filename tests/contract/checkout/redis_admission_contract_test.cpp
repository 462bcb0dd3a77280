// The Admission contract for the Redis adapter (services/checkout/adapters/redis): every
// instance Open() returns is another checkout instance's view (its own event loop, Redis client
// and in-memory state) over one real redis-server (tests/support/local_redis.*), the fixture's
// keys under a prefix of its own. Sync() waits for every instance's notifications to be answered
// and refreshes each instance's cached stock.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "contract/checkout/admission_contract.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "services/checkout/adapters/redis/redis_admission.hpp"
#include "services/checkout/adapters/redis/redis_idempotency_gate.hpp"
#include "support/local_redis.hpp"

namespace rocketmart::checkout::contract {
namespace {

class RedisAdmissionFixture final : public AdmissionFixture {
 public:
  Admission& Open() override {
    auto& server = rocketmart::testing::SharedLocalRedis();
    auto instance = std::make_unique<Instance>(server.tcp_url(), prefix_);
    if (instances_.empty()) {
      const Status started = Await(instance->admission.Start());
      if (!started.ok()) throw std::runtime_error("admission start: " + started.error().message);
    }
    instances_.push_back(std::move(instance));
    return instances_.back()->admission;
  }

  // On the first instance's client, as checkout's composition root pairs them (KeyHeldOrUsed
  // then reads the claim in its own script).
  IdempotencyGate& Gate() override {
    if (!gate_) {
      Instance& first = *instances_.front();
      gate_ =
          std::make_unique<RedisIdempotencyGate>(first.client, first.loop.executor(), first.metrics,
                                                 RedisIdempotencyGateOptions{.prefix = prefix_});
    }
    return *gate_;
  }

  void Sync() override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (auto& i : instances_) {
      while (i->admission.notifications_pending() > 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw std::runtime_error("notifications still pending after 10 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    for (auto& i : instances_) {
      EXPECT_EQ(i->admission.notifications_lost(), 0u);
      const std::size_t read = Await(i->admission.RefreshAvailable());
      (void)read;
    }
  }

 private:
  struct Instance {
    Instance(const std::string& url, const std::string& prefix)
        : client({loop.executor()}, redis::ParseEndpoint(url).value()),
          admission(client, metrics, RedisAdmissionOptions{prefix}) {}
    redis::IoThread loop{"redis-admission"};
    redis::Client client;
    metrics::Registry metrics;
    RedisAdmission admission;
  };
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::vector<std::unique_ptr<Instance>> instances_;
  std::unique_ptr<RedisIdempotencyGate> gate_;  // after the instances it uses: destroyed first
};

std::unique_ptr<AdmissionFixture> MakeRedisAdmission() {
  return std::make_unique<RedisAdmissionFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Redis, AdmissionContract, ::testing::Values(&MakeRedisAdmission));

}  // namespace rocketmart::checkout::contract

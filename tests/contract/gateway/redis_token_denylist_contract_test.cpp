// The token deny-list contract for the Redis adapter: each Open() is another gateway instance
// (its own client, event loop and subscription) over one real redis-server
// (tests/support/local_redis.*), the fixture's keys under a prefix of its own. Propagation bound:
// 1 s, issue 14's requirement.
#include <memory>
#include <vector>

#include "infra/redis/client.hpp"
#include "services/gateway/adapters/redis/redis_token_denylist.hpp"
#include "support/local_redis.hpp"
#include "token_denylist_contract.hpp"

namespace rocketmart::gateway::contract {
namespace {

class RedisDenylistFixture final : public DenylistFixture {
 public:
  DenylistInstance Open() override {
    auto& server = rocketmart::testing::SharedLocalRedis();
    instances_.push_back(std::make_unique<Instance>(server.tcp_url(), clock_, prefix_));
    RedisTokenDenylist& denylist = instances_.back()->denylist;
    denylist.Start();
    EXPECT_TRUE(denylist.WaitLoaded(std::chrono::seconds(5))) << "the replica loaded";
    return {denylist, denylist};
  }
  FakeClock& clock() override { return clock_; }
  std::chrono::milliseconds propagation() const override { return std::chrono::seconds(1); }

 private:
  struct Instance {
    Instance(const std::string& url, const Clock& clock, const std::string& prefix)
        : client({loop.executor()}, redis::ParseEndpoint(url).value()),
          denylist(client, loop.executor(), clock, prefix) {}
    ~Instance() {
      denylist.Stop();
      client.Close();
    }
    redis::IoThread loop{"redis-gateway"};
    redis::Client client;
    RedisTokenDenylist denylist;
  };
  FakeClock clock_;
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<DenylistFixture> MakeRedisDenylist() {
  return std::make_unique<RedisDenylistFixture>();
}

INSTANTIATE_TEST_SUITE_P(Redis, TokenDenylistContract, ::testing::Values(&MakeRedisDenylist));

}  // namespace
}  // namespace rocketmart::gateway::contract

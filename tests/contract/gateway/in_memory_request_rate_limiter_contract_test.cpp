// The rate limiter contract for the in-memory adapter (embedded: one process, so every instance
// is the same object), on an injected clock.
#include "request_rate_limiter_contract.hpp"
#include "services/gateway/adapters/in_memory_rate_limiter.hpp"

namespace rocketmart::gateway::contract {
namespace {

class InMemoryRateLimiterFixture final : public RateLimiterFixture {
 public:
  RequestRateLimiter& Open() override { return limiter_; }
  void Advance(std::chrono::microseconds d) override { clock_.Advance(d); }
  bool separate_instances() const override { return false; }

 private:
  FakeClock clock_;
  InMemoryRateLimiter limiter_{clock_};
};

std::unique_ptr<RateLimiterFixture> MakeInMemoryRateLimiter() {
  return std::make_unique<InMemoryRateLimiterFixture>();
}

INSTANTIATE_TEST_SUITE_P(InMemory, RequestRateLimiterContract,
                         ::testing::Values(&MakeInMemoryRateLimiter));

}  // namespace
}  // namespace rocketmart::gateway::contract

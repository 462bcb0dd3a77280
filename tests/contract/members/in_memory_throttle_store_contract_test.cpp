// The ThrottleStore contract for the in-memory adapter (embedded: one process, so every instance
// is the same object).
#include "services/members/adapters/in_memory_throttle_store.hpp"
#include "throttle_store_contract.hpp"

namespace rocketmart::members::contract {
namespace {

class InMemoryThrottleFixture final : public ThrottleFixture {
 public:
  ThrottleStore& Open() override { return store_; }
  FakeClock& clock() override { return clock_; }

 private:
  FakeClock clock_;
  InMemoryThrottleStore store_;
};

std::unique_ptr<ThrottleFixture> MakeInMemoryThrottles() {
  return std::make_unique<InMemoryThrottleFixture>();
}

INSTANTIATE_TEST_SUITE_P(InMemory, ThrottleStoreContract,
                         ::testing::Values(&MakeInMemoryThrottles));

}  // namespace
}  // namespace rocketmart::members::contract

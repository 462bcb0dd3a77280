// The token deny-list contract for the in-memory adapter (embedded: one process, so every
// instance is the same object and a denial is seen everywhere at once).
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "token_denylist_contract.hpp"

namespace rocketmart::gateway::contract {
namespace {

class InMemoryDenylistFixture final : public DenylistFixture {
 public:
  DenylistInstance Open() override { return {denylist_, denylist_}; }
  FakeClock& clock() override { return clock_; }
  std::chrono::milliseconds propagation() const override { return std::chrono::milliseconds{0}; }

 private:
  FakeClock clock_;
  InMemoryTokenDenylist denylist_{clock_};
};

std::unique_ptr<DenylistFixture> MakeInMemoryDenylist() {
  return std::make_unique<InMemoryDenylistFixture>();
}

INSTANTIATE_TEST_SUITE_P(InMemory, TokenDenylistContract, ::testing::Values(&MakeInMemoryDenylist));

}  // namespace
}  // namespace rocketmart::gateway::contract

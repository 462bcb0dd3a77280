// The IdempotencyGate contract for the in-memory adapter
// (services/checkout/adapters/in_memory_idempotency_gate): each Open() is another instance's gate,
// its own memory, which orders only the requests that meet in it (not shared by instances).
#include <vector>

#include "contract/checkout/idempotency_gate_contract.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"

namespace rocketmart::checkout::contract {
namespace {

class InMemoryGateFixture final : public IdempotencyGateFixture {
 public:
  IdempotencyGate& Open() override {
    gates_.push_back(std::make_unique<InMemoryIdempotencyGate>());
    return *gates_.back();
  }
  bool SharedByInstances() const override { return false; }

 private:
  std::vector<std::unique_ptr<InMemoryIdempotencyGate>> gates_;
};

std::unique_ptr<IdempotencyGateFixture> MakeInMemoryGate() {
  return std::make_unique<InMemoryGateFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(InMemory, IdempotencyGateContract, ::testing::Values(&MakeInMemoryGate));

}  // namespace rocketmart::checkout::contract

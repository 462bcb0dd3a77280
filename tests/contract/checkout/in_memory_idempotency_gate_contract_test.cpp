// The IdempotencyGate contract for the in-memory adapter
// (services/checkout/adapters/in_memory_idempotency_gate).
#include "contract/checkout/idempotency_gate_contract.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"

namespace rocketmart::checkout::contract {
namespace {

std::unique_ptr<IdempotencyGate> MakeInMemoryGate() {
  return std::make_unique<InMemoryIdempotencyGate>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(InMemory, IdempotencyGateContract, ::testing::Values(&MakeInMemoryGate));

}  // namespace rocketmart::checkout::contract

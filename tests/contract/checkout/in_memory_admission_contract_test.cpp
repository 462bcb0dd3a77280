// The Admission contract for the in-memory adapter
// (services/checkout/adapters/in_memory_admission): the embedded deployment's one instance, so
// every Open() answers the same adapter — its memory is the storage a second instance would share.
// A shared adapter (Redis) opens a second client.
#include "contract/checkout/admission_contract.hpp"
#include "services/checkout/adapters/in_memory_admission.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"

namespace rocketmart::checkout::contract {
namespace {

class InMemoryAdmissionFixture final : public AdmissionFixture {
 public:
  Admission& Open() override { return admission_; }
  IdempotencyGate& Gate() override { return gate_; }

 private:
  InMemoryAdmission admission_;
  InMemoryIdempotencyGate gate_;
};

std::unique_ptr<AdmissionFixture> MakeInMemoryAdmission() {
  return std::make_unique<InMemoryAdmissionFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(InMemory, AdmissionContract, ::testing::Values(&MakeInMemoryAdmission));

}  // namespace rocketmart::checkout::contract

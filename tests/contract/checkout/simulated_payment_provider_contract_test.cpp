// The PaymentProvider contract for the simulated provider
// (services/checkout/adapters/simulated_payment_provider): each client has its own connections
// and writer over the same provider.db, as two checkout instances would.
#include <deque>

#include "contract/checkout/payment_provider_contract.hpp"
#include "contract/checkout/sqlite_checkout_stores.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"

namespace rocketmart::checkout::contract {
namespace {

class SimulatedProviderFixture final : public PaymentProviderFixture {
 public:
  PaymentProvider& Open(bool declines) override {
    return clients_.emplace_back(dir_.File(declines ? "declining.db" : "provider.db"), declines)
        .provider;
  }

 private:
  struct Client {
    Client(const std::string& path, bool declines)
        : writer(ContractDbOptions(path, false)),
          readers(ContractDbOptions(path, true)),
          provider(writer, readers, SimulatedProviderOptions{declines ? 1.0 : 0.0, 1, {}}) {
      storage::Migrate(writer.Connection(), SimulatedProviderMigrations());
      writer.Start();
    }
    ~Client() { writer.Stop(); }
    storage::GroupCommitWriter writer;
    storage::ReadConnections readers;
    SimulatedPaymentProvider provider;
  };
  rocketmart::testing::TempDir dir_{"contract-provider"};
  std::deque<Client> clients_;
};

std::unique_ptr<PaymentProviderFixture> MakeSimulatedProvider() {
  return std::make_unique<SimulatedProviderFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Simulated, PaymentProviderContract,
                         ::testing::Values(&MakeSimulatedProvider));

}  // namespace rocketmart::checkout::contract

// The PaymentProvider contract for the simulated provider over its PostgreSQL ledger
// (services/checkout/adapters/postgres/postgres_simulated_ledger): each client has its own
// connection pool over the same database, as two checkout instances would.
#include <deque>
#include <stdexcept>

#include "contract/checkout/payment_provider_contract.hpp"
#include "infra/postgres/pool.hpp"
#include "services/checkout/adapters/postgres/postgres_simulated_ledger.hpp"
#include "support/local_postgres.hpp"
#include "support/run_await.hpp"

namespace rocketmart::checkout::contract {
namespace {

postgres::PoolSettings Settings(const std::string& conninfo, std::size_t size) {
  postgres::PoolSettings s;
  s.connect.conninfo = conninfo;
  s.size = size;
  return s;
}

std::string NewLedgerDatabase() {
  auto& server = rocketmart::testing::SharedLocalPostgres();
  const std::string conninfo = server.ConnectionString(server.NewDatabase("provider"));
  postgres::Pool pool(Settings(conninfo, 1));
  auto migrate = [](postgres::Pool& pool) -> boost::asio::awaitable<Status> {
    auto lease = co_await pool.Acquire();
    if (!lease.ok()) co_return std::move(lease).error();
    co_return co_await MigratePostgresSimulatedLedger(**lease);
  };
  const Status migrated = rocketmart::testing::RunAwait(migrate(pool));
  if (!migrated.ok())
    throw std::runtime_error("ledger migration failed: " + migrated.error().message);
  return conninfo;
}

class PostgresProviderFixture final : public PaymentProviderFixture {
 public:
  PaymentProvider& Open(bool declines) override {
    std::string& conninfo = declines ? declining_ : accepting_;
    if (conninfo.empty()) conninfo = NewLedgerDatabase();
    return clients_.emplace_back(conninfo, declines).provider;
  }

 private:
  struct Client {
    Client(const std::string& conninfo, bool declines)
        : pool(Settings(conninfo, 4)),
          provider(std::make_unique<PostgresSimulatedLedger>(pool),
                   SimulatedProviderOptions{declines ? 1.0 : 0.0, 1, {}}) {}
    postgres::Pool pool;
    SimulatedPaymentProvider provider;
  };
  std::string accepting_, declining_;
  std::deque<Client> clients_;
};

std::unique_ptr<PaymentProviderFixture> MakePostgresProvider() {
  return std::make_unique<PostgresProviderFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, PaymentProviderContract,
                         ::testing::Values(&MakePostgresProvider));

}  // namespace rocketmart::checkout::contract

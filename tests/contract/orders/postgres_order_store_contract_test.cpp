// The OrderStore contract for the PostgreSQL adapter (PostgresOrderStore): a fresh database per
// test on the test binary's own PostgreSQL 15; each instance has its own connection pool over it,
// as a second orders process would, so the concurrency clauses run across real row locks and
// SKIP LOCKED claims. What the store publishes is read from its outbox with the relay's read
// (events/postgres_outbox ReadOutbox), the read the relay (OutboxEventBus) itself uses.
#include <memory>

#include "contract/orders/order_store_contract.hpp"
#include "infra/events/postgres_outbox/outbox.hpp"
#include "services/orders/adapters/postgres/postgres_order_store.hpp"
#include "support/postgres_database.hpp"

namespace rocketmart::orders::contract {
namespace {

class PostgresOrderStoreFixture final : public OrderStoreFixture {
 public:
  PostgresOrderStoreFixture()
      : conninfo_(rocketmart::testing::NewMigratedDatabase("orders", &MigratePostgresOrders)),
        reader_(rocketmart::testing::InstancePool(conninfo_, 1)) {}
  OrderStore& Open(const LifecycleOptions& lifecycle) override {
    instances_.push_back(std::make_unique<Instance>(conninfo_, lifecycle));
    return instances_.back()->store;
  }
  std::vector<events::Event> Published() override {
    auto read = [](postgres::Pool& pool) -> boost::asio::awaitable<std::vector<events::Event>> {
      auto lease = co_await pool.Acquire();
      EXPECT_TRUE(lease.ok());
      if (!lease.ok()) co_return std::vector<events::Event>{};
      auto events = co_await events::postgres_outbox::ReadOutbox(**lease, api::kSource, 0, 100000);
      EXPECT_TRUE(events.ok());
      if (!events.ok()) co_return std::vector<events::Event>{};
      co_return std::move(*events);
    };
    return rocketmart::testing::RunAwait(read(reader_));
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    Instance(const std::string& conninfo, const LifecycleOptions& lifecycle)
        : pool(rocketmart::testing::InstancePool(conninfo)), store(pool, lifecycle) {}
    postgres::Pool pool;
    PostgresOrderStore store;
  };

  std::string conninfo_;
  postgres::Pool reader_;
  FakeClock clock_;
  std::vector<std::unique_ptr<Instance>> instances_;
};

std::unique_ptr<OrderStoreFixture> MakePostgresOrderStore() {
  return std::make_unique<PostgresOrderStoreFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, OrderStoreContract, ::testing::Values(&MakePostgresOrderStore));

}  // namespace rocketmart::orders::contract

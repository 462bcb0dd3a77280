// The checkout store suites' PostgreSQL fixture: a fresh database per test on the test binary's
// own PostgreSQL (tests/support/local_postgres.hpp), migrated once; each Open() is what a second
// checkout process would have over it (its own connection pool and hold batcher), so the
// concurrency clauses run across real row locks, SKIP LOCKED and unique-key waits.
#pragma once

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

#include "contract/checkout/checkout_stores_fixture.hpp"
#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/pool.hpp"
#include "services/checkout/adapters/postgres/postgres_checkout_stores.hpp"
#include "support/local_postgres.hpp"
#include "support/run_await.hpp"

namespace rocketmart::checkout::contract {

class PostgresCheckoutStoresFixture final : public CheckoutStoresFixture {
 public:
  PostgresCheckoutStoresFixture() : conninfo_(NewMigratedDatabase()) {}

  CheckoutStores Open() override {
    Instance& i = instances_.emplace_back(conninfo_);
    return CheckoutStores{i.stores.stock, i.stores.sales, i.stores.holds, i.stores.refunds,
                          i.stores.idempotency};
  }
  std::vector<events::Event> Published() override {
    auto read =
        [](const std::string& conninfo) -> boost::asio::awaitable<std::vector<events::Event>> {
      postgres::Pool pool(Settings(conninfo, 1));
      auto lease = co_await pool.Acquire();
      EXPECT_TRUE(lease.ok());
      if (!lease.ok()) co_return std::vector<events::Event>{};
      auto events = co_await events::postgres_outbox::ReadOutbox(**lease, "checkout", 0, 1'000'000);
      EXPECT_TRUE(events.ok());
      if (!events.ok()) co_return std::vector<events::Event>{};
      co_return std::move(*events);
    };
    return rocketmart::testing::RunAwait(read(conninfo_));
  }
  // The database's connection string (for the PostgreSQL-only tests' own reads).
  const std::string& conninfo() const { return conninfo_; }
  // The first instance's hold store, as its own type (batch statistics).
  PostgresHoldStore& holds() { return instances_.front().stores.holds; }

 private:
  static postgres::PoolSettings Settings(const std::string& conninfo, std::size_t size) {
    postgres::PoolSettings s;
    s.connect.conninfo = conninfo;
    s.size = size;
    return s;
  }
  static std::string NewMigratedDatabase() {
    auto& server = rocketmart::testing::SharedLocalPostgres();
    const std::string conninfo = server.ConnectionString(server.NewDatabase("checkout"));
    postgres::Pool pool(Settings(conninfo, 1));
    auto migrate = [](postgres::Pool& pool) -> boost::asio::awaitable<Status> {
      auto lease = co_await pool.Acquire();
      if (!lease.ok()) co_return std::move(lease).error();
      co_return co_await MigratePostgresCheckout(**lease);
    };
    const Status migrated = rocketmart::testing::RunAwait(migrate(pool));
    if (!migrated.ok()) {
      throw std::runtime_error("checkout migrations failed: " + migrated.error().message + "\n" +
                               server.LogTail());
    }
    return conninfo;
  }

  struct Instance {
    explicit Instance(const std::string& conninfo) : pool(Settings(conninfo, 8)), stores(pool) {}
    postgres::Pool pool;
    PostgresCheckoutStores stores;
  };

  std::string conninfo_;
  std::deque<Instance> instances_;
};

inline std::unique_ptr<CheckoutStoresFixture> MakePostgresCheckoutStores() {
  return std::make_unique<PostgresCheckoutStoresFixture>();
}

}  // namespace rocketmart::checkout::contract

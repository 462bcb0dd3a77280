// The simulated processor's ledger on PostgreSQL: a table of its own (charges, as in provider.db;
// component "simulated_provider" in schema_migrations) in checkout's database, shared by every
// checkout instance, as the one external processor they all call would be. Written in its own
// autocommit statements, never inside checkout's transactions. Thread-safe (the pool is).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "infra/postgres/connection.hpp"
#include "infra/postgres/pool.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"

namespace rocketmart::checkout {

// Creates the ledger's table (versioned, under the migration lock).
boost::asio::awaitable<Status> MigratePostgresSimulatedLedger(postgres::Connection& connection);

class PostgresSimulatedLedger final : public SimulatedLedger {
 public:
  explicit PostgresSimulatedLedger(postgres::Pool& pool) : pool_(pool) {}

  boost::asio::awaitable<Result<ChargeRecord>> Record(std::int64_t hold_id, std::int64_t member_id,
                                                      std::int64_t amount,
                                                      ChargeOutcome outcome) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Find(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Void(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<ChargeRecord>> MarkRefunded(std::int64_t hold_id) override;

 private:
  postgres::Pool& pool_;
};

}  // namespace rocketmart::checkout

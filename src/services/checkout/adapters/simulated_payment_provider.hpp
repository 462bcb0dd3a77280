// The shipped PaymentProvider: a simulated card processor with its own durable ledger
// (provider.db), a configurable decline rate and latency. It stands in for a real processor in
// the embedded default and in load tests (the original's "20% of payments fail").
//
// The decline decision is a pure function of (seed, hold id), so a retried charge gets the same
// answer, and the production path holds no randomness of its own. Each charge is committed to the
// provider's ledger before it is answered: after a crash, Lookup tells what really happened.
#pragma once

#include <chrono>
#include <cstdint>

#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/checkout/ports/payment_provider.hpp"

namespace rocketmart::checkout {

struct SimulatedProviderOptions {
  double decline_rate = 0.0;  // 0..1
  std::uint64_t seed = 1;
  std::chrono::milliseconds latency{0};
};

std::span<const storage::Migration> SimulatedProviderMigrations();

class SimulatedPaymentProvider final : public PaymentProvider {
 public:
  SimulatedPaymentProvider(storage::GroupCommitWriter& writer, storage::ReadConnections& readers,
                           SimulatedProviderOptions options)
      : writer_(writer), readers_(readers), options_(options) {}

  boost::asio::awaitable<Result<ChargeRecord>> Charge(std::int64_t hold_id, std::int64_t member_id,
                                                      std::int64_t amount) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Lookup(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) override;

  // Deterministic decision, exposed for tests.
  bool Declines(std::int64_t hold_id) const;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
  const SimulatedProviderOptions options_;
};

}  // namespace rocketmart::checkout

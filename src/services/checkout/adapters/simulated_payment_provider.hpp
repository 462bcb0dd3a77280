// The shipped PaymentProvider: a simulated card processor with its own durable ledger, a
// configurable decline rate and latency. It stands in for a real processor in the embedded
// default and in load tests (the original's "20% of payments fail").
//
// The decline decision is a pure function of (seed, hold id), so a retried charge gets the same
// answer, and the production path holds no randomness of its own. Each charge is committed to the
// provider's ledger before it is answered: after a crash, Lookup tells what really happened.
//
// A real processor is one system whichever checkout instance calls it, so the ledger is too: one
// SimulatedLedger shared by every instance. Embedded, a SQLite file of its own in the data
// directory (SqliteSimulatedLedger); with checkout on PostgreSQL, a table of its own in that
// database (adapters/postgres/postgres_simulated_ledger), so the instance that resolves a stale
// payment or refunds an order sees the charge another instance made. The ledger is never written
// in checkout's own transactions: the provider stays an outside party.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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

// Where the simulated processor keeps its charges. Every call is idempotent by hold id.
class SimulatedLedger {
 public:
  virtual ~SimulatedLedger() = default;
  // Records `outcome` (kCaptured or kDeclined) for the hold unless an outcome is recorded, and
  // answers the recorded one: the first writer wins, whichever client it was.
  virtual boost::asio::awaitable<Result<ChargeRecord>> Record(std::int64_t hold_id,
                                                              std::int64_t member_id,
                                                              std::int64_t amount,
                                                              ChargeOutcome outcome) = 0;
  virtual boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Find(
      std::int64_t hold_id) = 0;
  // Records VOIDED for the hold unless an outcome is recorded (the first writer wins, as Record);
  // answers the earlier charge, or nullopt when the hold is VOIDED.
  virtual boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Void(
      std::int64_t hold_id) = 0;
  // A captured charge becomes refunded (a refunded one is answered as it is); kNotFound for a
  // hold never charged, kConflict for a declined charge.
  virtual boost::asio::awaitable<Result<ChargeRecord>> MarkRefunded(std::int64_t hold_id) = 0;
};

// The reference the simulated processor gives a hold's charge.
std::string SimulatedReference(std::int64_t hold_id);
// The outcome a ledger row's status (CAPTURED, REFUNDED, DECLINED, VOIDED) records: a VOIDED
// hold answers a late Charge as declined.
ChargeOutcome SimulatedOutcome(std::string_view status);

std::span<const storage::Migration> SimulatedProviderMigrations();

// The ledger in a SQLite file (provider.db) shared by the clients that open it.
class SqliteSimulatedLedger final : public SimulatedLedger {
 public:
  SqliteSimulatedLedger(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : writer_(writer), readers_(readers) {}

  boost::asio::awaitable<Result<ChargeRecord>> Record(std::int64_t hold_id, std::int64_t member_id,
                                                      std::int64_t amount,
                                                      ChargeOutcome outcome) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Find(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Void(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<ChargeRecord>> MarkRefunded(std::int64_t hold_id) override;

 private:
  storage::GroupCommitWriter& writer_;
  storage::ReadConnections& readers_;
};

class SimulatedPaymentProvider final : public PaymentProvider {
 public:
  SimulatedPaymentProvider(std::unique_ptr<SimulatedLedger> ledger,
                           SimulatedProviderOptions options)
      : ledger_(std::move(ledger)), options_(options) {}
  // Over a SQLite ledger (provider.db) written by `writer`.
  SimulatedPaymentProvider(storage::GroupCommitWriter& writer, storage::ReadConnections& readers,
                           SimulatedProviderOptions options)
      : SimulatedPaymentProvider(std::make_unique<SqliteSimulatedLedger>(writer, readers),
                                 options) {}

  boost::asio::awaitable<Result<ChargeRecord>> Charge(std::int64_t hold_id, std::int64_t member_id,
                                                      std::int64_t amount) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Lookup(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<std::optional<ChargeRecord>>> Void(std::int64_t hold_id) override;
  boost::asio::awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) override;

  // Deterministic decision, exposed for tests.
  bool Declines(std::int64_t hold_id) const;

 private:
  const std::unique_ptr<SimulatedLedger> ledger_;
  const SimulatedProviderOptions options_;
};

}  // namespace rocketmart::checkout

#include "services/checkout/adapters/postgres/postgres_simulated_ledger.hpp"

#include <chrono>

#include "infra/postgres/migrations.hpp"

namespace rocketmart::checkout {
namespace {

namespace asio = boost::asio;
using postgres::Connection;
using postgres::Params;
using postgres::Rows;

constexpr postgres::Migration kMigrations[] = {
    {1, "charges", R"sql(
      CREATE TABLE charges (
        hold_id        bigint PRIMARY KEY,
        member_id      bigint NOT NULL,
        amount         bigint NOT NULL,
        status         text   NOT NULL CHECK (status IN ('CAPTURED', 'DECLINED', 'REFUNDED')),
        reference      text   NOT NULL,
        created_at_ms  bigint NOT NULL,
        refunded_at_ms bigint
      );
    )sql"},
    // A stale payment's resolver closes the hold at the provider (PaymentProvider::Void).
    {2, "voided charges", R"sql(
      ALTER TABLE charges DROP CONSTRAINT charges_status_check;
      ALTER TABLE charges ADD CONSTRAINT charges_status_check
        CHECK (status IN ('CAPTURED', 'DECLINED', 'REFUNDED', 'VOIDED'));
    )sql"},
};

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ChargeRecord RecordOf(const Rows& rows) {
  return ChargeRecord{SimulatedOutcome(rows.Text(0, 0)), std::string(rows.Text(0, 1))};
}

asio::awaitable<Result<std::optional<ChargeRecord>>> Read(Connection& c, std::int64_t hold_id) {
  Params p;
  p.Add(hold_id);
  auto rows =
      co_await c.Query("SELECT status, reference FROM charges WHERE hold_id = $1", std::move(p));
  if (!rows.ok()) co_return std::move(rows).error();
  if (rows->empty()) co_return std::optional<ChargeRecord>{};
  co_return std::optional<ChargeRecord>{RecordOf(*rows)};
}

}  // namespace

asio::awaitable<Status> MigratePostgresSimulatedLedger(postgres::Connection& connection) {
  co_return co_await postgres::Migrate(connection, "simulated_provider", kMigrations);
}

asio::awaitable<Result<ChargeRecord>> PostgresSimulatedLedger::Record(std::int64_t hold_id,
                                                                      std::int64_t member_id,
                                                                      std::int64_t amount,
                                                                      ChargeOutcome outcome) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Connection& c = **lease;
  Params p;
  p.Add(hold_id)
      .Add(member_id)
      .Add(amount)
      .Add(std::string(outcome == ChargeOutcome::kDeclined ? "DECLINED" : "CAPTURED"))
      .Add(SimulatedReference(hold_id))
      .Add(NowMillis());
  auto inserted = co_await c.Query(
      "INSERT INTO charges (hold_id, member_id, amount, status, reference, "
      "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hold_id) DO NOTHING "
      "RETURNING status, reference",
      std::move(p));
  if (!inserted.ok()) co_return std::move(inserted).error();
  if (!inserted->empty()) co_return RecordOf(*inserted);
  // Another client recorded it first (its commit is what ON CONFLICT waited for): a new
  // statement's snapshot sees its outcome.
  auto first = co_await Read(c, hold_id);
  if (!first.ok()) co_return std::move(first).error();
  if (!*first) co_return MakeError(Errc::kUnavailable, "the provider lost a charge it recorded");
  co_return std::move(**first);
}

asio::awaitable<Result<std::optional<ChargeRecord>>> PostgresSimulatedLedger::Find(
    std::int64_t hold_id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  co_return co_await Read(**lease, hold_id);
}

asio::awaitable<Result<std::optional<ChargeRecord>>> PostgresSimulatedLedger::Void(
    std::int64_t hold_id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Connection& c = **lease;
  Params p;
  p.Add(hold_id).Add(SimulatedReference(hold_id)).Add(NowMillis());
  auto inserted = co_await c.Query(
      "INSERT INTO charges (hold_id, member_id, amount, status, reference, created_at_ms) "
      "VALUES ($1, 0, 0, 'VOIDED', $2, $3) ON CONFLICT (hold_id) DO NOTHING RETURNING hold_id",
      std::move(p));
  if (!inserted.ok()) co_return std::move(inserted).error();
  if (!inserted->empty()) co_return std::optional<ChargeRecord>{};
  // Recorded first by a charge (or another void): a new statement's snapshot sees it.
  Params q;
  q.Add(hold_id);
  auto rows =
      co_await c.Query("SELECT status, reference FROM charges WHERE hold_id = $1", std::move(q));
  if (!rows.ok()) co_return std::move(rows).error();
  if (rows->empty())
    co_return MakeError(Errc::kUnavailable, "the provider lost a charge it recorded");
  if (rows->Text(0, 0) == "VOIDED") co_return std::optional<ChargeRecord>{};
  co_return std::optional<ChargeRecord>{RecordOf(*rows)};
}

asio::awaitable<Result<ChargeRecord>> PostgresSimulatedLedger::MarkRefunded(std::int64_t hold_id) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  Connection& c = **lease;
  Params p;
  p.Add(hold_id).Add(NowMillis());
  auto marked = co_await c.Query(
      "UPDATE charges SET status = 'REFUNDED', refunded_at_ms = $2 "
      "WHERE hold_id = $1 AND status = 'CAPTURED' RETURNING status, reference",
      std::move(p));
  if (!marked.ok()) co_return std::move(marked).error();
  if (!marked->empty()) co_return RecordOf(*marked);
  auto current = co_await Read(c, hold_id);
  if (!current.ok()) co_return std::move(current).error();
  if (!*current) co_return MakeError(Errc::kNotFound, "no such charge");
  if ((*current)->outcome == ChargeOutcome::kDeclined) {
    co_return MakeError(Errc::kConflict, "a declined charge cannot be refunded");
  }
  co_return std::move(**current);  // refunded already: the same answer
}

}  // namespace rocketmart::checkout

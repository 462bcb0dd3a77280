#include "services/checkout/adapters/simulated_payment_provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "infra/async/write.hpp"

namespace rocketmart::checkout {
namespace {

constexpr storage::Migration kMigrations[] = {
    {1, "charges", R"sql(
      CREATE TABLE charges (
        hold_id       INTEGER PRIMARY KEY,
        member_id     INTEGER NOT NULL,
        amount        INTEGER NOT NULL,
        status        TEXT    NOT NULL,
        reference     TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        refunded_at_ms INTEGER
      );
    )sql"},
};

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::optional<ChargeRecord> ReadCharge(storage::Database& db, std::int64_t hold_id) {
  auto& s = db.Cached("SELECT status, reference FROM charges WHERE hold_id = ?");
  s.BindInt64(1, hold_id);
  std::optional<ChargeRecord> out;
  if (s.Step()) {
    out = ChargeRecord{SimulatedOutcome(s.TextView(0)), s.Text(1)};
  }
  s.Reset();
  return out;
}

}  // namespace

std::span<const storage::Migration> SimulatedProviderMigrations() {
  return kMigrations;
}

bool SimulatedPaymentProvider::Declines(std::int64_t hold_id) const {
  const std::uint64_t r =
      SplitMix64(options_.seed ^ (static_cast<std::uint64_t>(hold_id) * 0x100000001b3ULL));
  return static_cast<double>(r >> 11) * 0x1.0p-53 < options_.decline_rate;
}

ChargeOutcome SimulatedOutcome(std::string_view status) {
  return status == "CAPTURED"   ? ChargeOutcome::kCaptured
         : status == "REFUNDED" ? ChargeOutcome::kRefunded
                                : ChargeOutcome::kDeclined;
}

std::string SimulatedReference(std::int64_t hold_id) {
  return "sim_" + std::to_string(hold_id);
}

boost::asio::awaitable<Result<ChargeRecord>> SimulatedPaymentProvider::Charge(
    std::int64_t hold_id, std::int64_t member_id, std::int64_t amount) {
  if (options_.latency.count() > 0) {
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor, options_.latency);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  const ChargeOutcome outcome =
      Declines(hold_id) ? ChargeOutcome::kDeclined : ChargeOutcome::kCaptured;
  co_return co_await ledger_->Record(hold_id, member_id, amount, outcome);
}

boost::asio::awaitable<Result<std::optional<ChargeRecord>>> SimulatedPaymentProvider::Lookup(
    std::int64_t hold_id) {
  co_return co_await ledger_->Find(hold_id);
}

boost::asio::awaitable<Result<std::optional<ChargeRecord>>> SimulatedPaymentProvider::Void(
    std::int64_t hold_id) {
  co_return co_await ledger_->Void(hold_id);
}

boost::asio::awaitable<Result<ChargeRecord>> SimulatedPaymentProvider::Refund(
    std::int64_t hold_id) {
  co_return co_await ledger_->MarkRefunded(hold_id);
}

boost::asio::awaitable<Result<ChargeRecord>> SqliteSimulatedLedger::Record(std::int64_t hold_id,
                                                                           std::int64_t member_id,
                                                                           std::int64_t amount,
                                                                           ChargeOutcome outcome) {
  const bool declined = outcome == ChargeOutcome::kDeclined;
  auto job = [hold_id, member_id, amount, declined](storage::Database& db) -> Result<ChargeRecord> {
    auto& s = db.Cached(
        "INSERT OR IGNORE INTO charges (hold_id, member_id, amount, status, reference, "
        "created_at_ms) "
        "VALUES (?, ?, ?, ?, ?, strftime('%s','now') * 1000)");
    s.BindInt64(1, hold_id)
        .BindInt64(2, member_id)
        .BindInt64(3, amount)
        .BindText(4, declined ? "DECLINED" : "CAPTURED")
        .BindText(5, SimulatedReference(hold_id));
    s.Step();
    s.Reset();
    return *ReadCharge(db, hold_id);  // the first outcome, whoever wrote it
  };
  co_return co_await async::Write<ChargeRecord>(writer_, std::move(job));
}

boost::asio::awaitable<Result<std::optional<ChargeRecord>>> SqliteSimulatedLedger::Find(
    std::int64_t hold_id) {
  // A point read on this thread's reader connection (the provider's ledger is its own file).
  co_return ReadCharge(readers_.ForThisThread(), hold_id);
}

boost::asio::awaitable<Result<std::optional<ChargeRecord>>> SqliteSimulatedLedger::Void(
    std::int64_t hold_id) {
  auto job = [hold_id](storage::Database& db) -> Result<std::optional<ChargeRecord>> {
    auto& s = db.Cached(
        "INSERT OR IGNORE INTO charges (hold_id, member_id, amount, status, reference, "
        "created_at_ms) VALUES (?, 0, 0, 'VOIDED', ?, strftime('%s','now') * 1000)");
    s.BindInt64(1, hold_id).BindText(2, SimulatedReference(hold_id));
    s.Step();
    s.Reset();
    auto& status = db.Cached("SELECT status FROM charges WHERE hold_id = ?");
    status.BindInt64(1, hold_id);
    const bool voided = status.Step() && status.TextView(0) == "VOIDED";
    status.Reset();
    if (voided) return std::optional<ChargeRecord>{};
    return ReadCharge(db, hold_id);
  };
  co_return co_await async::Write<std::optional<ChargeRecord>>(writer_, std::move(job));
}

boost::asio::awaitable<Result<ChargeRecord>> SqliteSimulatedLedger::MarkRefunded(
    std::int64_t hold_id) {
  auto job = [hold_id](storage::Database& db) -> Result<ChargeRecord> {
    auto current = ReadCharge(db, hold_id);
    if (!current) return MakeError(Errc::kNotFound, "no such charge");
    if (current->outcome == ChargeOutcome::kDeclined) {
      return MakeError(Errc::kConflict, "a declined charge cannot be refunded");
    }
    auto& s = db.Cached(
        "UPDATE charges SET status = 'REFUNDED', refunded_at_ms = strftime('%s','now') * 1000 "
        "WHERE hold_id = ? AND status = 'CAPTURED'");
    s.BindInt64(1, hold_id);
    s.Step();
    s.Reset();
    return *ReadCharge(db, hold_id);
  };
  co_return co_await async::Write<ChargeRecord>(writer_, std::move(job));
}

}  // namespace rocketmart::checkout

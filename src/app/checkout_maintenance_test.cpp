// Checkout's maintenance as the composition root schedules it, against a payment provider that
// stalls: a client that blocks its thread until the provider answers. The stale-payment resolver
// gets stuck in it; an expiry that falls due meanwhile still happens (issue 12 point 4).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "app/periodic_tasks.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/migrations.hpp"
#include "services/catalog/clients/in_process/product_directory.hpp"
#include "services/checkout/adapters/embedded_checkout_ports.hpp"
#include "services/checkout/module.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace rocketmart::app {
namespace {

using boost::asio::awaitable;
using checkout::ChargeOutcome;
using checkout::ChargeRecord;
using testing::RunAwait;

// Charges at once; asked what happened to a charge (or to refund one), it blocks the calling
// thread until Release().
class StalledProvider final : public checkout::PaymentProvider {
 public:
  awaitable<Result<ChargeRecord>> Charge(std::int64_t hold_id, std::int64_t,
                                         std::int64_t) override {
    co_return ChargeRecord{ChargeOutcome::kCaptured, "ref-" + std::to_string(hold_id)};
  }
  awaitable<Result<std::optional<ChargeRecord>>> Lookup(std::int64_t) override {
    Block();
    co_return std::optional<ChargeRecord>{};
  }
  awaitable<Result<std::optional<ChargeRecord>>> Void(std::int64_t) override {
    Block();
    co_return std::optional<ChargeRecord>{};
  }
  awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) override {
    Block();
    co_return ChargeRecord{ChargeOutcome::kRefunded, "ref-" + std::to_string(hold_id)};
  }
  bool Stalled() const { return stalled_.load() > 0; }
  void Release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void Block() {
    ++stalled_;
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return released_; });
  }
  std::atomic<int> stalled_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST(CheckoutMaintenance, AStalledProviderDoesNotDelayAnExpiryThatIsDue) {
  testing::TempDir dir("maintenance");
  storage::OpenOptions open{dir.File("checkout.db")};
  storage::GroupCommitWriter writer(open);
  storage::Migrate(writer.Connection(), checkout::CheckoutMigrations());
  open.read_only = true;
  storage::ReadConnections readers(open);
  writer.Start();
  FakeClock clock;
  metrics::Registry metrics;
  StalledProvider provider;
  catalog::InProcessProductDirectory directory;  // never bound: checkout knows the product itself
  checkout::EmbeddedCheckoutPorts ports(writer, readers);
  checkout::CheckoutService service(ports.With(provider, directory), clock, metrics);
  ASSERT_TRUE(RunAwait(service.Load()).ok());
  const checkout::ProductFacts facts{1, 1000, 10, false, 1, "Drop"};
  ASSERT_TRUE(RunAwait(service.RecordProductFacts(facts, "catalog:1")).ok());
  service.RefreshProductFacts(facts);
  const checkout::Sale sale{clock.Now() - std::chrono::hours(1),
                            clock.Now() + std::chrono::hours(2), 5};
  ASSERT_TRUE(RunAwait(service.SetSale(1, sale, kNoDeadline)).ok());
  // A hold the buyer walks away from (due in 600 s), and a payment another instance started and
  // left: its lease is over, so the resolver takes it and asks the stalled provider.
  std::vector<checkout::PurchaseLine> one{{1, 1}};
  auto hold = RunAwait(service.CreateHold({1, true}, one, std::nullopt));
  ASSERT_TRUE(hold.result.ok());
  checkout::HoldRequest paying;
  paying.member_id = 2;
  paying.lines = {{1, 1, 1000}};
  paying.per_member_limits = {{1, 5}};
  paying.now = clock.Now();
  paying.expires_at = clock.Now() + std::chrono::minutes(10);
  paying.pay_now = true;
  paying.worker = "another-instance";
  paying.payment_lease_until = clock.Now() - std::chrono::seconds(1);
  ASSERT_TRUE(RunAwait(ports.stores.holds.PlaceHold(paying)).ok());

  PeriodicTasks sweeper("periodic");
  PeriodicTasks provider_calls("provider-tasks");
  const checkout::MaintenanceSchedule every_few_ms{
      std::chrono::milliseconds(5), std::chrono::hours(1), std::chrono::hours(1),
      std::chrono::milliseconds(5), std::chrono::milliseconds(5)};
  SchedulePeriodicTasks(checkout::MaintenancePeriodicTasks(service, every_few_ms), sweeper,
                        provider_calls);
  sweeper.Start();
  provider_calls.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return provider.Stalled(); }));
  // The hold falls due while the resolver is stuck.
  clock.Advance(std::chrono::seconds(601));
  auto status = [&] {
    auto found = RunAwait(ports.stores.holds.FindHold(hold.result->id));
    return found.ok() && *found ? (*found)->hold.status : checkout::HoldStatus::kActive;
  };
  EXPECT_TRUE(testing::WaitUntil([&] { return status() == checkout::HoldStatus::kExpired; },
                                 std::chrono::seconds(10)))
      << "the expiry waited for the provider";
  // The unit goes back on sale just after the expiry commits: wait for it, do not race it.
  EXPECT_TRUE(testing::WaitUntil([&] { return service.Available(1) == 9; }))
      << "the expired unit is back on sale; one is still paying (available "
      << service.Available(1).value_or(-1) << ")";
  provider.Release();
  sweeper.Stop();
  provider_calls.Stop();
  writer.Stop();
}

}  // namespace
}  // namespace rocketmart::app

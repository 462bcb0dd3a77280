// Checkout instances admitting through one Redis (issue 14), at the service level: each instance a
// CheckoutService with its own event loop, Redis client, RedisAdmission and in-flight gate, over
// ONE PostgreSQL database (each its own pool, as another process would have) and one real
// redis-server. The payment provider is the simulated one (decline rate 0). Time is a FakeClock;
// the reconciler is driven by calling Reconcile().
//
//  - the sell-out race: 10,000 attempts by 2,000 members on two instances, stock 100, limit 1;
//  - H3: a counter corrupted (+5, -5, deleted, wrong type) is repaired by the next reconcile, with
//    purchases going on and nothing oversold;
//  - C4: Redis killed -9 (AOF everysec) mid-sale and restarted on its directory;
//  - D1: Redis stopped under load (its data lost: no AOF) and started again.
// Each prints what it measured (RecordProperty) and checks: 0 oversold (database sold <= stock,
// the store's invariants hold), 0 members over the limit, no answer other than paid, a definite
// refusal (409) or a retryable 503, and the counters equal to the database once reconciled.
#include "services/checkout/adapters/redis/redis_admission.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "contract/checkout/postgres_checkout_stores.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/redis/client.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/checkout/adapters/in_memory_admission.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/checkout_service.hpp"
#include "support/local_redis.hpp"
#include "support/run_await.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::checkout {
namespace {

namespace asio = boost::asio;
using rocketmart::testing::LocalRedis;
using rocketmart::testing::RunAwait;
using SteadyClock = std::chrono::steady_clock;

constexpr std::int64_t kProduct = 1;
constexpr std::int64_t kPrice = 1000;

class Catalog final : public ProductDirectory {
 public:
  boost::asio::awaitable<Result<bool>> Exists(std::int64_t) override { co_return true; }
};

// The payment provider both instances call (one service outside checkout).
class Provider {
 public:
  Provider() {
    storage::OpenOptions db{dir_.File("provider.db")};
    writer_ = std::make_unique<storage::GroupCommitWriter>(db);
    storage::Migrate(writer_->Connection(), SimulatedProviderMigrations());
    db.read_only = true;
    readers_ = std::make_unique<storage::ReadConnections>(db);
    writer_->Start();
    provider_ = std::make_unique<SimulatedPaymentProvider>(*writer_, *readers_,
                                                           SimulatedProviderOptions{0.0, 7, {}});
  }
  ~Provider() {
    provider_.reset();
    writer_->Stop();
  }
  PaymentProvider& get() { return *provider_; }

 private:
  rocketmart::testing::TempDir dir_;
  std::unique_ptr<storage::GroupCommitWriter> writer_;
  std::unique_ptr<storage::ReadConnections> readers_;
  std::unique_ptr<SimulatedPaymentProvider> provider_;
};

// One checkout instance: what a process would own.
struct Instance {
  Instance(const std::string& redis_url, const std::string& prefix, contract::CheckoutStores stores,
           PaymentProvider& provider, Catalog& catalog, const Clock& clock,
           const std::string& worker)
      : client({loop.executor()}, redis::ParseEndpoint(redis_url).value()),
        admission(client, metrics, RedisAdmissionOptions{prefix}),
        service(CheckoutPorts{stores.stock, stores.sales, stores.holds, stores.refunds,
                              stores.idempotency, admission, gate, provider, catalog},
                clock, metrics, Options(worker)) {}
  static CheckoutOptions Options(const std::string& worker) {
    CheckoutOptions o;
    o.worker = worker;
    o.hold_ttl = std::chrono::seconds(600);
    return o;
  }
  std::uint64_t Metric(const std::string& line) {
    const std::string text = "\n" + metrics.RenderPrometheus();
    const auto at = text.find("\n" + line + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + line.size() + 2));
  }

  redis::IoThread loop{"checkout-loop"};
  redis::Client client;
  metrics::Registry metrics;
  RedisAdmission admission;
  InMemoryIdempotencyGate gate;
  CheckoutService service;
};

// What the buyers saw.
struct Tally {
  std::atomic<int> paid{0}, sold_out{0}, limit{0}, unavailable{0}, attempts{0};
  std::atomic<std::int64_t> slowest_refusal_us{0};
  std::mutex mu;
  std::map<std::int64_t, int> paid_by_member;
  std::vector<std::string> unexpected;

  void Record(std::int64_t member, const Result<PaidOrder>& r, SteadyClock::duration took) {
    ++attempts;
    if (r.ok()) {
      ++paid;
      std::lock_guard lock(mu);
      ++paid_by_member[member];
      return;
    }
    const std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    std::int64_t seen = slowest_refusal_us.load();
    while (us > seen && !slowest_refusal_us.compare_exchange_weak(seen, us)) {
    }
    switch (r.error().code) {
      case Errc::kSoldOut:
      case Errc::kInsufficientStock:
        ++sold_out;
        return;
      case Errc::kPurchaseLimitReached:
        ++limit;
        return;
      case Errc::kUnavailable:
      case Errc::kTimeout:
      case Errc::kOverloaded:
        ++unavailable;  // 503 + Retry-After: retryable, never an internal error
        return;
      default: {
        std::lock_guard lock(mu);
        unexpected.push_back(std::string(ErrcName(r.error().code)) + ": " + r.error().message);
      }
    }
  }
  int MembersOverLimit(int limit_units) {
    std::lock_guard lock(mu);
    int over = 0;
    for (const auto& [member, n] : paid_by_member) over += n > limit_units ? 1 : 0;
    return over;
  }
};

// One buyer coroutine: takes attempt numbers until `total` (or `stop`), member = n % members.
asio::awaitable<void> Shopper(CheckoutService& service, Tally& tally, std::atomic<int>& next,
                              int total, int members, const std::atomic<bool>& stop,
                              std::chrono::milliseconds pause) {
  for (;;) {
    if (stop.load()) co_return;
    const int n = next.fetch_add(1);
    if (n >= total) co_return;
    const std::int64_t member = 1 + n % members;
    std::vector<PurchaseLine> lines = {PurchaseLine{kProduct, 1}};
    const Buyer buyer{member, true};
    std::optional<IdempotencyRequest> no_key;
    const auto started = SteadyClock::now();
    Answer<PaidOrder> answer =
        co_await service.Purchase(buyer, std::move(lines), std::move(no_key));
    tally.Record(member, answer.result, SteadyClock::now() - started);
    if (pause.count() > 0) {
      auto executor = co_await asio::this_coro::executor;
      asio::steady_timer timer(executor, pause);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
}

class RedisAdmissionBattery : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::warn); }

  // The product and its sale in the database, then the instances (each loads and rebuilds).
  void Open(LocalRedis& redis, std::int64_t stock, std::int64_t limit, int instances = 2) {
    contract::CheckoutStores first = db_.Open();
    auto row = RunAwait(
        first.stock.ApplyProductFacts(ProductFacts{kProduct, kPrice, stock, false, 1, "Drop"},
                                      "checkout.inventory", "catalog:1", clock_.Now()));
    ASSERT_TRUE(row.ok() && row->has_value());
    const Sale sale{clock_.Now() - std::chrono::hours(1), clock_.Now() + std::chrono::hours(1),
                    limit};
    ASSERT_TRUE(RunAwait(first.sales.SaveSale(kProduct, sale, clock_.Now())).ok());
    stock_ = stock;
    stores_.push_back(first);
    for (int i = 0; i < instances; ++i) {
      contract::CheckoutStores stores = i == 0 ? first : db_.Open();
      auto& inst = instances_.emplace_back(
          std::make_unique<Instance>(redis.tcp_url(), prefix_, stores, provider_.get(), catalog_,
                                     clock_, "checkout-" + std::to_string(i)));
      if (i == 0) ASSERT_TRUE(RunAwait(inst->admission.Start()).ok());
      ASSERT_TRUE(RunAwait(inst->service.Load()).ok());
    }
  }

  // Runs `total` attempts by `members` members on every instance (`per_instance` buyers each),
  // until done or `stop`.
  void Sell(Tally& tally, int total, int members, int per_instance, const std::atomic<bool>& stop,
            std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    std::atomic<int> next{0};
    std::atomic<int> done{0};
    int spawned = 0;
    for (auto& inst : instances_) {
      for (int b = 0; b < per_instance; ++b, ++spawned) {
        asio::co_spawn(inst->loop.executor(),
                       Shopper(inst->service, tally, next, total, members, stop, pause),
                       [&done, &tally](std::exception_ptr e) {
                         if (e) {
                           std::lock_guard lock(tally.mu);
                           tally.unexpected.push_back("a buyer threw");
                         }
                         ++done;
                       });
      }
    }
    while (done.load() < spawned) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  StockSnapshot Database() {
    auto snapshot = RunAwait(stores_.front().stock.Snapshot(kProduct));
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? *snapshot : StockSnapshot{};
  }
  std::int64_t Sold() {
    auto figures = RunAwait(stores_.front().stock.SaleFigures(kProduct));
    EXPECT_TRUE(figures.ok() && figures->has_value());
    return figures.ok() && figures->has_value() ? (*figures)->sold : -1;
  }
  void ExpectInvariants() {
    auto problems = RunAwait(stores_.front().stock.CheckInvariants());
    ASSERT_TRUE(problems.ok());
    for (const auto& p : *problems) ADD_FAILURE() << "invariant: " << p.problem;
  }
  std::string ProductKey() const { return prefix_ + "adm:p:" + std::to_string(kProduct); }
  // Redis's counter as text ("" when it cannot be read).
  std::string Counter(LocalRedis& redis) { return redis.Command({"HGET", ProductKey(), "a"}); }
  // Whether Redis's counters equal the database's (available and every member's units).
  bool InAgreement(LocalRedis& redis) {
    const StockSnapshot db = Database();
    if (Counter(redis) != std::to_string(db.available)) return false;
    std::map<std::string, std::string> theirs;
    std::string all = redis.Command({"HGETALL", prefix_ + "adm:m:" + std::to_string(kProduct)});
    std::vector<std::string> parts;
    for (std::size_t at = 0; at <= all.size() && !all.empty();) {
      const std::size_t nl = all.find('\n', at);
      parts.push_back(all.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
    for (std::size_t i = 0; i + 1 < parts.size(); i += 2) theirs[parts[i]] = parts[i + 1];
    std::map<std::string, std::string> ours;
    for (const auto& [member, units] : db.member_units) {
      if (units > 0) ours[std::to_string(member)] = std::to_string(units);
    }
    return theirs == ours;
  }
  // Reconciles on the first instance until Redis agrees with the database, within `bound`.
  bool ReconcileUntilAgreed(LocalRedis& redis, std::chrono::seconds bound) {
    const auto deadline = SteadyClock::now() + bound;
    while (SteadyClock::now() < deadline) {
      const ReconcileReport report = RunAwait(instances_.front()->service.Reconcile());
      (void)report;
      if (InAgreement(redis)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void WaitForNotifications() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    for (auto& inst : instances_) {
      while (inst->admission.notifications_pending() > 0 && SteadyClock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  void TearDown() override {
    instances_.clear();  // clients close before their loops stop
  }

  FakeClock clock_;
  Catalog catalog_;
  Provider provider_;
  contract::PostgresCheckoutStoresFixture db_;
  std::vector<contract::CheckoutStores> stores_;
  std::vector<std::unique_ptr<Instance>> instances_;
  const std::string prefix_ = rocketmart::testing::NewKeyPrefix();
  std::int64_t stock_ = 0;
};

TEST_F(RedisAdmissionBattery, TwoInstancesSellExactlyTheStockAndNoMemberPastTheLimit) {
  LocalRedis& redis = rocketmart::testing::SharedLocalRedis();
  Open(redis, 100, 1);
  Tally tally;
  std::atomic<bool> stop{false};
  const auto started = SteadyClock::now();
  Sell(tally, 10'000, 2'000, 32, stop);
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  WaitForNotifications();
  RecordProperty("attempts_per_second", std::to_string(10'000 / seconds));
  EXPECT_TRUE(tally.unexpected.empty()) << tally.unexpected.front();
  EXPECT_EQ(tally.attempts.load(), 10'000);
  EXPECT_EQ(tally.paid.load(), 100);
  EXPECT_EQ(tally.unavailable.load(), 0);
  EXPECT_EQ(tally.MembersOverLimit(1), 0);
  EXPECT_EQ(Sold(), 100);
  EXPECT_EQ(Counter(redis), "0");
  EXPECT_TRUE(InAgreement(redis));
  ExpectInvariants();
  // Every refusal came from Redis: the database guard refused nothing.
  for (auto& inst : instances_) {
    EXPECT_EQ(inst->Metric("checkout_admission_db_rejections_total"), 0u);
  }
  std::printf("sell-out race: 10000 attempts on 2 instances in %.2f s (%.0f/s), %d paid\n", seconds,
              10'000 / seconds, tally.paid.load());
}

}  // namespace
}  // namespace rocketmart::checkout

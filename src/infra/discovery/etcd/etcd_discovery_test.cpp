// The etcd adapter of the discovery ports against a real etcd (tests/support/local_etcd.*; no
// mocks): how fast a registration is seen and a deregistration or a killed registrant is gone,
// what etcd's loss, restart and lease revocation do, and that garbage under the root is skipped.
// The measured figures are printed ("figure: ...") for docs/adr/0043-discovery-etcd.md.
#include "infra/discovery/etcd/etcd_discovery.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "infra/async/run.hpp"
#include "infra/discovery/etcd/etcd_registry.hpp"
#include "support/local_etcd.hpp"
#include "support/wait.hpp"

namespace rocketmart::discovery::etcd {
namespace {

using testing::EtcdBase64;
using testing::LocalEtcd;
using testing::WaitUntil;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kTtl = std::chrono::seconds(2);

// One event loop on its own thread for the adapters under test. Everything created on it must be
// closed before it ends.
class Loop {
 public:
  Loop() : work_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~Loop() { Finish(); }
  // Lets the loop run out of work (everything on it closed) and waits for its thread.
  void Finish() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

EtcdOptions Options(const LocalEtcd& etcd) {
  EtcdOptions options;
  options.endpoint = etcd.endpoint();
  options.lease_ttl = kTtl;
  return options;
}

Instance Make(std::string service, std::string id, std::uint16_t port) {
  return Instance{std::move(service), std::move(id), "127.0.0.1", port, {{"zone", "a"}}};
}

std::vector<std::string> Ids(const InstanceSet& set) {
  std::vector<std::string> ids;
  for (const auto& i : set) ids.push_back(i.id);
  return ids;
}
using IdList = std::vector<std::string>;

// What one watcher was called with.
class Seen {
 public:
  Discovery::Callback Callback() {
    return [this](const InstanceSet& set) {
      std::lock_guard lock(mutex_);
      calls_.push_back(set);
    };
  }
  bool called() const {
    std::lock_guard lock(mutex_);
    return !calls_.empty();
  }
  IdList Last() const {
    std::lock_guard lock(mutex_);
    return calls_.empty() ? IdList{} : Ids(calls_.back());
  }
  InstanceSet LastSet() const {
    std::lock_guard lock(mutex_);
    return calls_.empty() ? InstanceSet{} : calls_.back();
  }
  std::vector<InstanceSet> All() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // How many sets were seen so far (a mark for SeenSince).
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }
  // Waits until some set seen after `mark` had the ids `ids` (however briefly); true if one did
  // within `timeout`.
  bool SeenSince(std::size_t mark, const IdList& ids, std::chrono::milliseconds timeout) const {
    return WaitUntil(
        [&] {
          std::lock_guard lock(mutex_);
          for (std::size_t i = mark; i < calls_.size(); ++i) {
            if (Ids(calls_[i]) == ids) return true;
          }
          return false;
        },
        timeout);
  }
  // Waits until the last set's ids are `ids`; true if they were within `timeout`.
  bool WaitFor(const IdList& ids, std::chrono::milliseconds timeout) const {
    return WaitUntil([&] { return called() && Last() == ids; }, timeout);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<InstanceSet> calls_;
};

// A real etcd per test; the loop starts on first use (a test that forks does so before), and
// everything the test created on it is closed before it ends.
class EtcdDiscoveryTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& registry : registries_) registry->Close();
    if (discovery_) discovery_->Close();
    if (loop_) loop_->Finish();
    // Their timers and sockets belong to the loop's io_context: gone before it is.
    registries_.clear();
    discovery_.reset();
    loop_.reset();
  }
  Loop& loop() {
    if (!loop_) loop_ = std::make_unique<Loop>();
    return *loop_;
  }
  EtcdDiscovery& StartDiscovery() {
    auto discovery = EtcdDiscovery::Create(loop().executor(), options_);
    EXPECT_TRUE(discovery.ok());
    discovery_ = *discovery;
    discovery_->Start();
    return *discovery_;
  }
  EtcdServiceRegistry& NewRegistry() {
    auto registry = EtcdServiceRegistry::Create(loop().executor(), options_);
    EXPECT_TRUE(registry.ok());
    registries_.push_back(*registry);
    return *registries_.back();
  }

  LocalEtcd etcd_;
  const EtcdOptions options_ = Options(etcd_);
  std::unique_ptr<Loop> loop_;
  std::shared_ptr<EtcdDiscovery> discovery_;
  std::vector<std::shared_ptr<EtcdServiceRegistry>> registries_;
};

long long MillisSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
}

void Put(const LocalEtcd& etcd, const std::string& key, const std::string& value) {
  const std::string answer =
      etcd.Post("/v3/kv/put",
                R"({"key":")" + EtcdBase64(key) + R"(","value":")" + EtcdBase64(value) + R"("})");
  ASSERT_NE(answer.find("\"header\""), std::string::npos) << answer;
}

TEST(EtcdDiscovery, OptionsThatCannotWorkAreRefused) {
  boost::asio::io_context ioc;
  for (auto change : std::vector<std::function<void(EtcdOptions&)>>{
           [](EtcdOptions& o) { o.endpoint = "https://127.0.0.1:2379"; },
           [](EtcdOptions& o) { o.endpoint = "http://127.0.0.1"; },
           [](EtcdOptions& o) { o.endpoint = "http://user@127.0.0.1:2379"; },
           [](EtcdOptions& o) { o.root = "rocketmart"; },
           [](EtcdOptions& o) { o.lease_ttl = std::chrono::seconds(4); },
           [](EtcdOptions& o) { o.call_timeout = Millis{1500}; },
           [](EtcdOptions& o) { o.backoff_max = Millis{10}; }}) {
    EtcdOptions options;
    change(options);
    auto registry = EtcdServiceRegistry::Create(ioc.get_executor(), options);
    ASSERT_FALSE(registry.ok());
    EXPECT_EQ(registry.error().code, Errc::kValidationFailed);
    EXPECT_FALSE(EtcdDiscovery::Create(ioc.get_executor(), options).ok());
  }
}

TEST_F(EtcdDiscoveryTest,
       ARegistrationIsSeenWithinOneSecondAndADeregistrationIsGoneWithinOneSecond) {
  auto& discovery = StartDiscovery();
  auto& registry = NewRegistry();
  Seen seen;
  discovery.Watch("catalog", seen.Callback());
  ASSERT_TRUE(WaitUntil([&] { return seen.called(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(seen.Last().empty()) << "the first call is the current, empty set";

  const auto registered = SteadyClock::now();
  ASSERT_TRUE(registry.Register(Make("catalog", "catalog-1", 8081)).ok());
  ASSERT_TRUE(seen.WaitFor({"catalog-1"}, std::chrono::seconds(1)))
      << "not seen within 1 s of Register";
  const auto seen_ms = MillisSince(registered);
  const Instance got = seen.LastSet().at(0);
  EXPECT_EQ(got, Make("catalog", "catalog-1", 8081));
  EXPECT_EQ(Ids(discovery.Instances("catalog")), IdList{"catalog-1"});
  EXPECT_TRUE(WaitUntil([&] { return registry.listed(); }, std::chrono::seconds(1)));

  const auto deregistered = SteadyClock::now();
  auto revoked = async::RunToCompletion(registry.Deregister());
  EXPECT_TRUE(revoked.ok()) << revoked.error().message;
  ASSERT_TRUE(seen.WaitFor({}, std::chrono::seconds(1))) << "still listed 1 s after Deregister";
  const auto gone_ms = MillisSince(deregistered);
  EXPECT_TRUE(discovery.Instances("catalog").empty());
  std::cout << "figure: register -> seen " << seen_ms << " ms; deregister -> gone " << gone_ms
            << " ms\n";
  EXPECT_FALSE(registry.Register(Make("catalog", "catalog-2", 8082)).ok())
      << "a deregistered registry lists nothing more";
}

TEST_F(EtcdDiscoveryTest, ARegistrantKilledWithSigkillIsGoneWithinTheTtlPlusOneSecond) {
  // The registrant is a child process (forked before this process starts any thread).
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    boost::asio::io_context ioc;
    auto registry = EtcdServiceRegistry::Create(ioc.get_executor(), options_);
    if (!registry.ok() || !(*registry)->Register(Make("checkout", "checkout-9", 9090)).ok()) {
      ::_exit(2);
    }
    ioc.run();  // keeps the lease alive until killed
    ::_exit(3);
  }
  auto& discovery = StartDiscovery();
  Seen seen;
  discovery.Watch("checkout", seen.Callback());
  const bool listed = seen.WaitFor({"checkout-9"}, std::chrono::seconds(5));
  // Kept alive past its first TTL: the keep-alives work.
  std::this_thread::sleep_for(kTtl + std::chrono::milliseconds(500));  // outlive one TTL
  const bool still_listed = seen.Last() == IdList{"checkout-9"};
  const auto killed = SteadyClock::now();
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(listed) << "the child never registered";
  EXPECT_TRUE(still_listed) << "the lease was not kept alive";
  const bool gone = seen.WaitFor({}, kTtl + std::chrono::seconds(1));
  const auto gone_ms = MillisSince(killed);
  EXPECT_TRUE(gone) << "a SIGKILLed registrant still listed " << gone_ms << " ms later";
  std::cout << "figure: SIGKILL -> gone " << gone_ms << " ms (TTL " << kTtl.count() << " s)\n";
}

TEST_F(EtcdDiscoveryTest, TheLeaseIsKeptAliveEveryThirdOfItsTtlNotBackToBack) {
  auto& registry = NewRegistry();
  ASSERT_TRUE(registry.Register(Make("orders", "orders-1", 8084)).ok());
  ASSERT_TRUE(WaitUntil([&] { return registry.listed(); }, std::chrono::seconds(5)));
  const auto lease = registry.lease_id();
  const std::uint64_t before = registry.keepalives();
  std::this_thread::sleep_for(kTtl);  // one TTL: one keep-alive every 667 ms, 3 in all
  const std::uint64_t during = registry.keepalives() - before;
  EXPECT_EQ(registry.lease_id(), lease) << "the lease was lost: not kept alive in time";
  EXPECT_GE(during, 2u) << "kept alive too rarely";
  EXPECT_LE(during, 4u) << during << " keep-alives in one " << kTtl.count()
                        << " s TTL (one every third of it expected)";
}

TEST_F(EtcdDiscoveryTest, TwoServicesWatchersSeeOnlyTheirOwnInstances) {
  auto& discovery = StartDiscovery();
  Seen catalog, orders;
  discovery.Watch("catalog", catalog.Callback());
  discovery.Watch("orders", orders.Callback());
  std::vector<EtcdServiceRegistry*> registries;
  for (int i = 1; i <= 3; ++i) {
    registries.push_back(&NewRegistry());
    ASSERT_TRUE(
        registries.back()->Register(Make("catalog", "c" + std::to_string(i), 8000 + i)).ok());
  }
  for (int i = 1; i <= 2; ++i) {
    registries.push_back(&NewRegistry());
    ASSERT_TRUE(
        registries.back()->Register(Make("orders", "o" + std::to_string(i), 9000 + i)).ok());
  }
  EXPECT_TRUE(catalog.WaitFor({"c1", "c2", "c3"}, std::chrono::seconds(2)));
  EXPECT_TRUE(orders.WaitFor({"o1", "o2"}, std::chrono::seconds(2)));
  for (const auto& call : catalog.All()) {
    for (const auto& instance : call) EXPECT_EQ(instance.service, "catalog");
  }
  for (const auto& call : orders.All()) {
    for (const auto& instance : call) EXPECT_EQ(instance.service, "orders");
  }
  EXPECT_EQ(Ids(discovery.Instances("orders")), (IdList{"o1", "o2"}));
  EXPECT_TRUE(discovery.Instances("members").empty());
  // One catalog instance leaves: orders' watcher is not called again.
  const auto orders_calls = orders.All().size();
  EXPECT_TRUE(async::RunToCompletion(registries[1]->Deregister()).ok());
  EXPECT_TRUE(catalog.WaitFor({"c1", "c3"}, std::chrono::seconds(1)));
  EXPECT_EQ(orders.All().size(), orders_calls);
}

TEST_F(EtcdDiscoveryTest, GarbageUnderTheRootIsSkipped) {
  const std::string root(kDefaultRoot);
  // Before the first range...
  Put(etcd_, root + "catalog/bad-json", "not json");
  Put(etcd_, root + "junk", R"({"host":"h","port":1})");
  Put(etcd_, root + "Catalog/upper", R"({"host":"h","port":1})");
  Put(etcd_, root + "catalog/good", R"({"host":"10.0.0.1","port":81})");
  auto& discovery = StartDiscovery();
  Seen seen;
  discovery.Watch("catalog", seen.Callback());
  EXPECT_TRUE(seen.WaitFor({"good"}, std::chrono::seconds(2)));
  // ... and through the watch.
  Put(etcd_, root + "catalog/no-port", R"({"host":"h"})");
  Put(etcd_, root + "catalog/also-good", R"({"host":"10.0.0.2","port":82,"extra":true})");
  EXPECT_TRUE(seen.WaitFor({"also-good", "good"}, std::chrono::seconds(1)));
  // An instance whose value turns into garbage no longer describes an instance: dropped.
  Put(etcd_, root + "catalog/good", "{");
  EXPECT_TRUE(seen.WaitFor({"also-good"}, std::chrono::seconds(1)));
  EXPECT_EQ(discovery.ranges(), 1u) << "garbage did not break the watch";
}

TEST_F(EtcdDiscoveryTest, ALeaseEtcdRevokesIsGrantedAgainAndTheInstanceComesBack) {
  // etcd #15247: every lease revoked after a leader stall. The registrant must notice.
  auto& discovery = StartDiscovery();
  auto& registry = NewRegistry();
  Seen seen;
  discovery.Watch("orders", seen.Callback());
  ASSERT_TRUE(registry.Register(Make("orders", "o1", 9001)).ok());
  ASSERT_TRUE(seen.WaitFor({"o1"}, std::chrono::seconds(2)));
  const auto lease = registry.lease_id();
  ASSERT_NE(lease, 0);
  const std::size_t mark = seen.count();
  etcd_.Post("/v3/lease/revoke", R"({"ID":")" + std::to_string(lease) + R"("})");
  // The registrant may put it back before this thread looks: the empty set is looked for in every
  // set the watcher saw since the revoke, not only the last.
  ASSERT_TRUE(seen.SeenSince(mark, {}, std::chrono::seconds(1)))
      << "revoking the lease deletes the key";
  const auto revoked = SteadyClock::now();
  EXPECT_TRUE(seen.WaitFor({"o1"}, kTtl)) << "not registered again within one TTL";
  std::cout << "figure: lease revoked by etcd -> listed again " << MillisSince(revoked) << " ms\n";
  EXPECT_EQ(registry.grants(), 2u);
  EXPECT_NE(registry.lease_id(), lease);
}

TEST_F(EtcdDiscoveryTest, EtcdKilledAndRestartedEverythingConvergesAndNothingBlocks) {
  auto& discovery = StartDiscovery();
  auto& a = NewRegistry();
  auto& b = NewRegistry();
  Seen seen;
  discovery.Watch("catalog", seen.Callback());
  ASSERT_TRUE(a.Register(Make("catalog", "a", 8001)).ok());
  ASSERT_TRUE(b.Register(Make("catalog", "b", 8002)).ok());
  ASSERT_TRUE(seen.WaitFor({"a", "b"}, std::chrono::seconds(2)));
  ASSERT_TRUE(WaitUntil([&] { return discovery.watching(); }, std::chrono::seconds(1)));
  const auto ranges = discovery.ranges();

  etcd_.Kill();
  ASSERT_TRUE(WaitUntil([&] { return !discovery.watching(); }, std::chrono::seconds(2)));
  // While etcd is down: calls return at once, the last known set stays.
  const auto before = SteadyClock::now();
  ASSERT_TRUE(a.Register(Make("catalog", "c", 8003)).ok());
  Seen late;
  discovery.Watch("catalog", late.Callback());
  EXPECT_LT(MillisSince(before), 50) << "Register/Watch waited for etcd";
  EXPECT_EQ(Ids(discovery.Instances("catalog")), (IdList{"a", "b"}));
  EXPECT_TRUE(late.WaitFor({"a", "b"}, std::chrono::seconds(1)))
      << "a late watcher gets the last set";
  b.Close();  // b's process "dies" while etcd is down: its lease runs out after the restart
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // an outage of some length
  EXPECT_EQ(Ids(discovery.Instances("catalog")), (IdList{"a", "b"}));

  const auto restarted = SteadyClock::now();
  etcd_.Start();
  // c arrives (b may already have run out by then, or not yet).
  EXPECT_TRUE(WaitUntil(
      [&] {
        const auto ids = seen.Last();
        return std::find(ids.begin(), ids.end(), "c") != ids.end();
      },
      std::chrono::seconds(4)))
      << "the registration made while etcd was down did not arrive";
  const auto c_ms = MillisSince(restarted);
  EXPECT_TRUE(seen.WaitFor({"a", "c"}, kTtl + std::chrono::seconds(2)))
      << "the instance that died during the outage is still listed";
  EXPECT_TRUE(late.WaitFor({"a", "c"}, std::chrono::seconds(1)));
  EXPECT_GT(discovery.ranges(), ranges) << "the watcher read everything again";
  EXPECT_TRUE(WaitUntil([&] { return a.listed(); }, std::chrono::seconds(1)));
  std::cout << "figure: etcd restarted -> registration made during the outage seen " << c_ms
            << " ms\n";
}

TEST_F(EtcdDiscoveryTest, StartingWhileEtcdIsDownNeitherBlocksNorFailsAndCatchesUp) {
  etcd_.Kill();
  const auto before = SteadyClock::now();
  auto& discovery = StartDiscovery();
  auto& registry = NewRegistry();
  Seen seen;
  discovery.Watch("members", seen.Callback());
  ASSERT_TRUE(registry.Register(Make("members", "m1", 7001)).ok());
  EXPECT_LT(MillisSince(before), 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // a few backoff rounds
  EXPECT_FALSE(seen.called()) << "nothing is known while etcd was never reached";
  EXPECT_FALSE(registry.listed());
  etcd_.Start();
  EXPECT_TRUE(seen.WaitFor({"m1"}, std::chrono::seconds(4)));
}

}  // namespace
}  // namespace rocketmart::discovery::etcd

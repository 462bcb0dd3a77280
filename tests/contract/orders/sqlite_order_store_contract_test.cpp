// The OrderStore contract for the SQLite adapter (SqliteOrderStore): each instance is what a second
// process would have over the same orders.db (its own group-commit writer and read connections),
// so the concurrency clauses run across real SQLite locking. What the store publishes is read the
// way checkout reads it: through the SQLite event bus, by a consumer with its own database.
#include <map>
#include <memory>
#include <mutex>

#include "contract/orders/order_store_contract.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::orders::contract {
namespace {

// synchronous=NORMAL: the promises under test do not depend on fsync, the shared CI machine does.
storage::OpenOptions Options(const std::string& path, bool read_only) {
  return storage::OpenOptions{
      .path = path, .read_only = read_only, .synchronous = storage::Synchronous::kNormal};
}

struct Database {
  Database(const std::string& path, std::span<const storage::Migration> migrations)
      : writer(Options(path, false)), readers(Options(path, true)) {
    storage::Migrate(writer.Connection(), migrations);  // a no-op on a second instance
    writer.Start();
  }
  ~Database() { writer.Stop(); }
  storage::GroupCommitWriter writer;
  storage::ReadConnections readers;
};

// Keeps every event delivered to it, once per id.
class Collector final : public events::EventSubscriber {
 public:
  std::string_view Name() const override { return "contract.observer"; }
  void Handle(std::span<const events::Event> batch) override {
    std::lock_guard lock(mu_);
    for (const events::Event& e : batch) {
      if (seen_.emplace(e.id, events_.size()).second) events_.push_back(e);
    }
  }
  std::vector<events::Event> Events() {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::size_t> seen_;
  std::vector<events::Event> events_;
};

class SqliteOrderStoreFixture final : public OrderStoreFixture {
 public:
  ~SqliteOrderStoreFixture() override {
    bus_.reset();  // before the writers it delivers through
    observer_.reset();
    instances_.clear();
  }
  OrderStore& Open(const LifecycleOptions& lifecycle) override {
    instances_.push_back(std::make_unique<Instance>(dir_.File("orders.db"), lifecycle));
    return instances_.back()->store;
  }
  std::vector<events::Event> Published() override {
    if (!bus_) {
      observer_ = std::make_unique<Database>(dir_.File("observer.db"),
                                             std::span<const storage::Migration>{});
      bus_ = std::make_unique<events::sqlite_outbox::SqliteEventBus>(clock_);
      Instance& first = *instances_.front();
      bus_->AddService(std::string(api::kSource), first.db.writer, first.db.readers);
      bus_->AddService("observer", observer_->writer, observer_->readers);
      bus_->Subscribe({std::string(api::kSource),
                       {std::string(api::kOrderCancelled), std::string(api::kOrderReturned)},
                       "observer",
                       events::Delivery::kEffect,
                       &collector_});
    }
    while (bus_->DeliverOnceForTest(api::kSource)) {
    }
    return collector_.Events();
  }
  FakeClock& clock() override { return clock_; }

 private:
  struct Instance {
    Instance(const std::string& path, const LifecycleOptions& lifecycle)
        : db(path, OrdersMigrations()), store(db.writer, db.readers, lifecycle) {}
    Database db;
    SqliteOrderStore store;
  };

  rocketmart::testing::TempDir dir_{"contract-orders"};
  FakeClock clock_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::unique_ptr<Database> observer_;
  Collector collector_;
  std::unique_ptr<events::sqlite_outbox::SqliteEventBus> bus_;
};

std::unique_ptr<OrderStoreFixture> MakeSqliteOrderStore() {
  return std::make_unique<SqliteOrderStoreFixture>();
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, OrderStoreContract, ::testing::Values(&MakeSqliteOrderStore));

}  // namespace rocketmart::orders::contract

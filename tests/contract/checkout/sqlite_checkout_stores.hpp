// The checkout store suites' SQLite fixture: each Open() is what a second process would have over
// the same checkout.db (its own group-commit writer and read connections), so the concurrency
// clauses run across real SQLite locking.
#pragma once

#include <deque>
#include <memory>

#include "contract/checkout/checkout_stores_fixture.hpp"
#include "infra/events/sqlite_outbox/sqlite_stores.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/checkout/adapters/sqlite_checkout_schema.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::checkout::contract {

// synchronous=NORMAL: the promises under test do not depend on fsync, the shared machine does.
inline storage::OpenOptions ContractDbOptions(const std::string& path, bool read_only) {
  return storage::OpenOptions{
      .path = path, .read_only = read_only, .synchronous = storage::Synchronous::kNormal};
}

class SqliteCheckoutStoresFixture final : public CheckoutStoresFixture {
 public:
  CheckoutStores Open() override {
    Instance& i = instances_.emplace_back(dir_.File("checkout.db"));
    return CheckoutStores{i.stores.stock, i.stores.sales, i.stores.holds, i.stores.refunds,
                          i.stores.idempotency};
  }
  std::vector<events::Event> Published() override {
    Instance& first = instances_.front();
    events::sqlite_outbox::SqliteOutboxSource outbox("checkout", first.writer, first.readers);
    std::vector<events::Event> out;
    for (events::OutboxRow& row : outbox.ReadAfter(0, 1'000'000)) {
      out.push_back({"checkout:" + std::to_string(row.seq), std::move(row.topic),
                     std::move(row.payload), row.created_at});
    }
    return out;
  }

 private:
  struct Instance {
    explicit Instance(const std::string& path)
        : writer(ContractDbOptions(path, false)),
          readers(ContractDbOptions(path, true)),
          stores(writer, readers) {
      storage::Migrate(writer.Connection(), CheckoutMigrations());  // a no-op on a second instance
      writer.Start();
    }
    ~Instance() { writer.Stop(); }
    storage::GroupCommitWriter writer;
    storage::ReadConnections readers;
    SqliteCheckoutStores stores;
  };

  rocketmart::testing::TempDir dir_{"contract-checkout"};
  std::deque<Instance> instances_;  // destroyed before the directory
};

inline std::unique_ptr<CheckoutStoresFixture> MakeSqliteCheckoutStores() {
  return std::make_unique<SqliteCheckoutStoresFixture>();
}

}  // namespace rocketmart::checkout::contract

// Test helpers shared by the orders suites (orders_test.cpp, unit; orders_crash_test.cpp,
// process): an "instance" of the orders service over a database file, a paid-order event and a
// count read straight from the file. Owned by one test; not thread-safe beyond what the service is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "infra/async/run.hpp"
#include "infra/storage/migrations.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders::test_support {

// One "instance" of the orders service over a database file: its own writer, readers and store.
struct Instance {
  Instance(const std::string& path, const Clock& clock, LifecycleOptions lifecycle = {},
           std::size_t batch = 1000) {
    storage::OpenOptions open;
    open.path = path;
    writer = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer->Connection(), OrdersMigrations());
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
    store = std::make_unique<SqliteOrderStore>(*writer, *readers, lifecycle);
    service = std::make_unique<OrdersService>(*store, clock, OrdersOptions{batch});
    writer->Start();
  }
  ~Instance() { writer->Stop(); }

  std::size_t RunOnce() { return async::RunToCompletion(service->RunSchedulerOnce()); }
  std::size_t Drain() {
    std::size_t total = 0;
    while (const std::size_t n = RunOnce()) total += n;
    return total;
  }

  std::unique_ptr<storage::GroupCommitWriter> writer;
  std::unique_ptr<storage::ReadConnections> readers;
  std::unique_ptr<SqliteOrderStore> store;
  std::unique_ptr<OrdersService> service;
};

inline PaidOrderEvent Paid(std::int64_t id, std::int64_t member, TimePoint at) {
  return PaidOrderEvent{"checkout:" + std::to_string(id), id, id, member, 3000, at,
                        {{7, 2, 1000}, {8, 1, 1000}}};
}

inline std::int64_t Count(const std::string& path, const std::string& sql) {
  storage::OpenOptions open;
  open.path = path;
  open.read_only = true;
  storage::Database db(open);
  auto s = db.Prepare(sql);
  s.Step();
  return s.Int64(0);
}

// Orders that went through one status more than once (0 when every transition applied once).
inline std::int64_t RepeatedTransitions(const std::string& path) {
  return Count(path,
               "SELECT COUNT(*) FROM (SELECT order_id, status FROM order_history "
               "GROUP BY order_id, status HAVING COUNT(*) > 1)");
}

}  // namespace rocketmart::orders::test_support

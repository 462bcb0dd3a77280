// Test helpers shared by the orders suites (orders_test.cpp, unit; orders_crash_test.cpp,
// process): an "instance" of the orders service over a database file, a paid-order event and a
// count read straight from the file. Owned by one test; not thread-safe beyond what the service is.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "infra/async/run.hpp"
#include "infra/storage/migrations.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders::test_support {

// Checkout as these tests need it: it knows no payment and no product (the orders service's own
// behaviour is under test; refund_flow_test.cpp binds the real checkout).
class CheckoutKnowsNothing final : public PaymentsClient, public SaleFiguresSource {
 public:
  boost::asio::awaitable<Result<std::optional<PaidOrderEvent>>> PaidOrder(std::int64_t,
                                                                          Deadline) override {
    co_return std::optional<PaidOrderEvent>{};
  }
  boost::asio::awaitable<Result<std::optional<SaleFigures>>> Figures(std::int64_t,
                                                                     Deadline) override {
    co_return std::optional<SaleFigures>{};
  }
};

template <class T>
T Await(boost::asio::awaitable<T> task) {
  return async::RunToCompletion(std::move(task));
}

// One "instance" of the orders service over a database file: its own writer, readers and store.
struct Instance {
  Instance(const std::string& path, const Clock& clock, LifecycleOptions lifecycle = {},
           std::size_t batch = 1000, SaleFiguresSource* figures = nullptr) {
    storage::OpenOptions open;
    open.path = path;
    writer = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer->Connection(), OrdersMigrations());
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
    store = std::make_unique<SqliteOrderStore>(*writer, *readers, lifecycle);
    service = std::make_unique<OrdersService>(
        OrdersPorts{*store, checkout, figures ? *figures : checkout}, clock, OrdersOptions{batch});
    writer->Start();
  }
  ~Instance() { writer->Stop(); }

  // Delivers order.paid events the way the subscriber does; returns how many orders were new.
  std::size_t Record(const std::vector<PaidOrderEvent>& events) {
    auto created = Await(service->OnOrdersPaid(events));
    EXPECT_TRUE(created.ok());
    return created.ok() ? *created : 0;
  }
  std::size_t RunOnce() { return Await(service->RunSchedulerOnce()); }
  std::size_t Drain() {
    std::size_t total = 0;
    while (const std::size_t n = RunOnce()) total += n;
    return total;
  }

  CheckoutKnowsNothing checkout;
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

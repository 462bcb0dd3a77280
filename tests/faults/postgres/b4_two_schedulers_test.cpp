// Battery B4 on PostgreSQL (issue 13, docs/postgres.md "Fault tests"): two order schedulers over
// 10,000 due orders, one of them killed in the middle of a batch; the survivor and a restarted
// scheduler finish, and every transition is applied exactly once.
//
// Each scheduler is what one orders process has: its own connection pool and PostgresOrderStore
// over the shared database, driven as OrdersService's scheduler drives the store (ApplyDue with
// the service's default batch of 1000, again while a batch comes back full, then the next tick).
//
// The kill: once the victim has committed a batch, the test waits until one of its backends is
// inside a transaction that has already written (a batch half applied: rows claimed FOR UPDATE,
// some transitions updated, no COMMIT sent yet) and terminates every backend of the victim's pool
// with pg_terminate_backend (the pool has one connection: the scheduler runs one batch at a time).
// For the database that is exactly what a kill -9 of the process is: its sockets close, the server
// aborts the open transaction and releases its row locks; the process never gets to send COMMIT or
// ROLLBACK. The victim's code then sees its connection lost (a Result error, no crash) and stops,
// as a dead process would; its pool is destroyed and a new scheduler (new pool, new store: the
// restarted process) joins the survivor.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "services/orders/adapters/postgres/postgres_order_store.hpp"
#include "support/postgres_database.hpp"
#include "support/run_await.hpp"
#include "support/wait.hpp"

namespace rocketmart::orders {
namespace {

using Clock = std::chrono::steady_clock;
using rocketmart::testing::RunAwait;

constexpr int kOrders = 10'000;
constexpr std::size_t kBatch = 1000;  // OrdersOptions::scheduler_batch's default
const TimePoint kPaidAt = FromUnixMillis(1'800'000'000'000);
const LifecycleOptions kLifecycle{};

// One scheduler process: its pool and store. One connection is all the scheduler uses (one
// batch at a time), so the pool's single backend is the process's whole presence on the server.
struct Scheduler {
  explicit Scheduler(const std::string& conninfo)
      : pool(rocketmart::testing::InstancePool(conninfo, 1)), store(pool, kLifecycle) {}
  // The server pid of the pool's connection (opened here; the scheduler then reuses it).
  std::string BackendPid() {
    auto ask = [](postgres::Pool& pool) -> boost::asio::awaitable<std::string> {
      auto lease = co_await pool.Acquire();
      if (!lease.ok()) co_return std::string();
      auto rows = co_await (*lease)->Query("SELECT pg_backend_pid()");
      if (!rows.ok()) co_return std::string();
      co_return std::string(rows->Text(0, 0));
    };
    return RunAwait(ask(pool));
  }
  postgres::Pool pool;
  PostgresOrderStore store;
  std::atomic<std::size_t> applied{0};  // transitions of acknowledged (committed) batches
  std::atomic<bool> dead{false};        // a batch failed: the process is gone
};

// The service's scheduler loop: ticks until `stop`; within a tick, batches while they come back
// full. A failed batch ends the process (the victim after its kill; for the others it is a
// failure the test reports).
void RunScheduler(Scheduler& s, TimePoint now, const std::atomic<bool>& stop) {
  while (!stop && !s.dead) {
    for (;;) {
      Result<std::size_t> batch = RunAwait(s.store.ApplyDue(now, kBatch));
      if (!batch.ok()) {
        s.dead = true;
        break;
      }
      s.applied += *batch;
      if (*batch < kBatch) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the sweep interval
  }
}

PaidOrderEvent Paid(std::int64_t id) {
  return PaidOrderEvent{"checkout:" + std::to_string(id),
                        id,
                        id,
                        100 + id % 50,
                        1500,
                        kPaidAt,
                        {{7, 1, 1000, "Sneaker"}, {8, 1, 500, "Cap"}}};
}

TEST(PostgresB4, TwoSchedulersOneKilledMidBatchApplyEveryTransitionExactlyOnce) {
  auto& server = rocketmart::testing::SharedLocalPostgres();
  const std::string conninfo =
      rocketmart::testing::NewMigratedDatabase("b4orders", &MigratePostgresOrders);
  const std::string db = conninfo.substr(conninfo.rfind("dbname=") + 7);  // the last key
  {
    postgres::Pool pool(rocketmart::testing::InstancePool(conninfo, 1));
    PostgresOrderStore seeder(pool, kLifecycle);
    std::vector<PaidOrderEvent> batch;
    for (std::int64_t id = 1; id <= kOrders; ++id) {
      batch.push_back(Paid(id));
      if (batch.size() == 1000) {
        Result<std::size_t> created = RunAwait(seeder.RecordPaid(std::move(batch), kPaidAt));
        ASSERT_TRUE(created.ok()) << created.error().message;
        ASSERT_EQ(*created, 1000u);
        batch.clear();
      }
    }
  }
  const TimePoint now = kPaidAt + kLifecycle.ship_after;  // every order's shipping is due
  const auto started = Clock::now();

  std::atomic<bool> stop{false};
  auto victim = std::make_unique<Scheduler>(conninfo);
  const std::string victim_pid = victim->BackendPid();
  ASSERT_FALSE(victim_pid.empty());
  Scheduler survivor(conninfo);
  std::thread victim_thread([&] { RunScheduler(*victim, now, stop); });
  std::thread survivor_thread([&] { RunScheduler(survivor, now, stop); });

  // The kill, once the victim has committed a batch and is half-way through another.
  std::string killed_xid;
  auto kill_mid_batch = [&] {
    if (victim->applied == 0) return false;
    killed_xid = server.QueryValue(
        db,
        "WITH victim AS MATERIALIZED (SELECT pid, backend_xid FROM pg_stat_activity "
        "WHERE pid = " +
            victim_pid +
            " AND backend_xid IS NOT NULL "
            "AND state = 'idle in transaction') "
            "SELECT backend_xid::text FROM victim WHERE pg_terminate_backend(pid)");
    return !killed_xid.empty();
  };
  rocketmart::testing::WaitUntil(kill_mid_batch, std::chrono::seconds(30));
  if (killed_xid.empty()) {
    stop = true;
    victim_thread.join();
    survivor_thread.join();
    FAIL() << "the victim was never caught mid-batch; it applied " << victim->applied
           << ", the survivor " << survivor.applied << (victim->dead ? ", the victim died" : "");
  }
  victim_thread.join();
  EXPECT_TRUE(victim->dead) << "the victim's batch reported success after its connection died";
  const std::size_t by_victim = victim->applied;
  victim.reset();  // the process is gone, and its pool with it

  // The restart.
  Scheduler restarted(conninfo);
  std::thread restarted_thread([&] { RunScheduler(restarted, now, stop); });
  auto due = [&] {
    return server.QueryValue(db,
                             "SELECT count(*) FROM order_schedule WHERE to_status = 'SHIPPING'");
  };
  rocketmart::testing::WaitUntil([&] { return due() == "0"; }, std::chrono::seconds(50));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  stop = true;
  survivor_thread.join();
  restarted_thread.join();
  EXPECT_FALSE(survivor.dead);
  EXPECT_FALSE(restarted.dead);

  // The killed transaction never committed (it was killed before its COMMIT was sent).
  EXPECT_EQ(server.QueryValue(db, "SELECT txid_status(" + killed_xid + ")"), "aborted");
  // Nothing lost, nothing doubled: every order shipped, each through one SHIPPING transition,
  // and the acknowledged batches add up to exactly the orders.
  EXPECT_EQ(due(), "0") << "steps left undone after " << seconds << " s";
  const std::size_t applied = by_victim + survivor.applied + restarted.applied;
  EXPECT_EQ(applied, static_cast<std::size_t>(kOrders))
      << "victim " << by_victim << ", survivor " << survivor.applied << ", restarted "
      << restarted.applied;
  EXPECT_GT(by_victim, 0u);
  EXPECT_GT(survivor.applied + restarted.applied, 0u);
  EXPECT_EQ(server.QueryValue(db,
                              "SELECT count(*) FROM order_history WHERE status = 'SHIPPING' "
                              "AND kind = 'transition'"),
            std::to_string(kOrders));
  EXPECT_EQ(server.QueryValue(db,
                              "SELECT count(*) FROM (SELECT order_id FROM order_history "
                              "WHERE status = 'SHIPPING' GROUP BY order_id HAVING count(*) > 1) d"),
            "0");
  // Through the port: the orders in SHIPPING, and a sample of histories read back.
  {
    postgres::Pool pool(rocketmart::testing::InstancePool(conninfo, 1));
    PostgresOrderStore reader(pool, kLifecycle);
    AdminOrderQuery shipping;
    shipping.status = OrderStatus::kShipping;
    Result<std::optional<std::int64_t>> count = RunAwait(reader.CountForAdmin(shipping));
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(count->value_or(-1), kOrders);
    for (std::int64_t id = 1; id <= kOrders; id += 97) {
      Result<std::optional<Order>> order = RunAwait(reader.Find(id));
      ASSERT_TRUE(order.ok() && order->has_value()) << "order " << id;
      const Order& o = **order;
      ASSERT_EQ(o.history.size(), 2u) << "order " << id;
      EXPECT_EQ(o.history[0].status, OrderStatus::kPaid);
      EXPECT_EQ(o.history[1].status, OrderStatus::kShipping);
    }
  }
  std::printf(
      "B4: %d orders, victim %zu (killed mid-batch, xid %s), survivor %zu, restarted %zu, "
      "%.2f s from the first batch to the last\n",
      kOrders, by_victim, killed_xid.c_str(), std::size_t{survivor.applied},
      std::size_t{restarted.applied}, seconds);
}

}  // namespace
}  // namespace rocketmart::orders

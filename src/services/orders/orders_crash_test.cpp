// The orders scheduler killed with kill -9 in the middle of its work (tier process: the test forks
// a scheduler child and kills it), then restarted on the same orders.db: every transition happens
// exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "services/orders/orders_test_support.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::orders {
namespace {

using namespace std::chrono_literals;
using test_support::Count;
using test_support::Instance;
using test_support::Paid;
using test_support::RepeatedTransitions;

class OrdersCrashTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.File("orders.db"); }

  rocketmart::testing::TempDir dir_{"orders-crash"};
  FakeClock clock_;
};

TEST_F(OrdersCrashTest, Kill9WithDueWorkPendingThenEveryTransitionHappensExactlyOnce) {
  constexpr int kOrders = 3000;
  // Zero delays: at one fixed instant every order is due for its whole walk (3 transitions).
  LifecycleOptions immediate{0s, 0s, 0s, 0s};
  {
    Instance seed(Path(), clock_, immediate);
    std::vector<PaidOrderEvent> events;
    for (int id = 1; id <= kOrders; ++id) events.push_back(Paid(id, 10, clock_.Now()));
    seed.Record(events);
  }  // the writer is stopped: no thread is running when we fork
  int progress[2];
  ASSERT_EQ(pipe(progress), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(progress[0]);
    Instance worker(Path(), clock_, immediate, 50);
    while (worker.RunOnce() > 0) {
      const char committed = 1;  // one byte per committed batch
      if (write(progress[1], &committed, 1) != 1) _exit(2);
    }
    _exit(0);
  }
  close(progress[1]);
  char buf[5];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = read(progress[0], buf + got, sizeof buf - got);
    ASSERT_GT(n, 0) << "the worker stopped before making progress";
    got += static_cast<std::size_t>(n);
  }
  kill(child, SIGKILL);  // mid-schedule, possibly mid-transaction
  int status = 0;
  waitpid(child, &status, 0);
  close(progress[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  const std::int64_t done_before = Count(Path(), "SELECT COUNT(*) FROM order_history");
  ASSERT_GT(done_before, kOrders);      // some work was applied
  ASSERT_LT(done_before, 4 * kOrders);  // and some was still pending
  Instance restarted(Path(), clock_, immediate, 500);
  ASSERT_TRUE(test_support::Await(restarted.service->Load()).ok());
  restarted.Drain();
  EXPECT_EQ(Count(Path(), "SELECT COUNT(*) FROM orders WHERE status = 'COMPLETED'"), kOrders);
  EXPECT_EQ(Count(Path(), "SELECT COUNT(*) FROM order_history"), 4 * kOrders);
  EXPECT_EQ(RepeatedTransitions(Path()), 0) << "a transition was applied twice";
  EXPECT_EQ(Count(Path(), "SELECT COUNT(*) FROM order_schedule"), 0);
}

}  // namespace
}  // namespace rocketmart::orders

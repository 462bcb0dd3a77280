// The lock across processes (tier process: the test forks children and kills one): another
// process is refused while the lock is held, and served once its holder dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "infra/lock/file_lock.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::lock {
namespace {

TEST(FileLockProcess, AnotherProcessIsRefusedWhileHeldAndServedWhenTheHolderDies) {
  const rocketmart::testing::TempDir dir("lock");
  const auto path = dir.path() / "x.lock";
  auto lock = FileLock::TryAcquire(path);
  ASSERT_TRUE(lock.has_value());
  const pid_t child = fork();
  if (child == 0) _exit(FileLock::TryAcquire(path).has_value() ? 1 : 0);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child got a held lock";

  lock.reset();
  // A holder killed outright: the kernel releases its lock.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  if (holder == 0) {
    auto held = FileLock::TryAcquire(path);
    const char c = held ? 'y' : 'n';
    [[maybe_unused]] auto n = write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_FALSE(FileLock::TryAcquire(path).has_value());
  kill(holder, SIGKILL);
  waitpid(holder, &status, 0);
  EXPECT_TRUE(FileLock::TryAcquire(path).has_value());
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace rocketmart::lock

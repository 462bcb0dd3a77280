#include "infra/lock/file_lock.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace rocketmart::lock {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  rocketmart::testing::TempDir temp_{"lock"};
  const std::filesystem::path& dir_ = temp_.path();
};

TEST_F(FileLockTest, OneHolderAtATimeAndReleasedWithTheObject) {
  const auto path = dir_ / "x.lock";
  auto first = FileLock::TryAcquire(path);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(FileLock::TryAcquire(path).has_value());
  EXPECT_FALSE(FileLock::Acquire(path, std::chrono::milliseconds(30)).has_value());
  first.reset();
  EXPECT_TRUE(FileLock::TryAcquire(path).has_value());
}

TEST_F(FileLockTest, TheNoteNamesTheHolder) {
  const auto path = dir_ / "x.lock";
  auto lock = FileLock::TryAcquire(path);
  ASSERT_TRUE(lock.has_value());
  lock->SetNote("pid 42");
  EXPECT_EQ(FileLock::ReadNote(path), "pid 42");
  lock->SetNote("pid 7");
  EXPECT_EQ(FileLock::ReadNote(path), "pid 7");
  EXPECT_EQ(FileLock::ReadNote(dir_ / "missing.lock"), "");
}

TEST_F(FileLockTest, AnotherProcessIsRefusedWhileHeldAndServedWhenTheHolderDies) {
  const auto path = dir_ / "x.lock";
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

TEST_F(FileLockTest, AnUnopenableFileThrows) {
  EXPECT_THROW(FileLock::TryAcquire(dir_ / "no-such-dir" / "x.lock"), std::system_error);
}

}  // namespace
}  // namespace rocketmart::lock

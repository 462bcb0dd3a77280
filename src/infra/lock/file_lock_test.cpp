// The lock within one process; across processes (fork, kill) in file_lock_process_test.cpp.
#include "infra/lock/file_lock.hpp"

#include <gtest/gtest.h>

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

TEST_F(FileLockTest, AnUnopenableFileThrows) {
  EXPECT_THROW(FileLock::TryAcquire(dir_ / "no-such-dir" / "x.lock"), std::system_error);
}

}  // namespace
}  // namespace rocketmart::lock

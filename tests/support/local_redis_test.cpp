// LocalRedis (tests/support/local_redis.*): a real redis-server per test that answers at once,
// keeps or loses data across a crash as its AOF setting says, and leaves nothing running, not even
// when the test process is killed.
#include "support/local_redis.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/child_process.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

TEST(LocalRedis, AnswersOnItsSocketAndItsPort) {
  LocalRedis redis;
  EXPECT_TRUE(redis.running());
  EXPECT_GT(redis.port(), 0);
  EXPECT_EQ(redis.Command({"PING"}), "PONG");
  EXPECT_EQ(redis.Command({"CONFIG", "GET", "port"}), "port\n" + std::to_string(redis.port()));
  EXPECT_EQ(redis.Command({"CONFIG", "GET", "maxmemory-policy"}), "maxmemory-policy\nnoeviction");
  EXPECT_EQ(redis.tcp_url(), "redis://127.0.0.1:" + std::to_string(redis.port()));
}

TEST(LocalRedis, TwoServersAreApart) {
  LocalRedis a, b;
  EXPECT_NE(a.port(), b.port());
  EXPECT_NE(a.unix_socket(), b.unix_socket());
  a.Command({"SET", "k", "a"});
  EXPECT_EQ(b.Command({"GET", "k"}), "(nil)");
}

TEST(LocalRedis, WithAofAlwaysAWriteSurvivesKill9) {
  LocalRedis redis({.appendonly = true, .appendfsync = "always"});
  EXPECT_EQ(redis.Command({"SET", "k", "v"}), "OK");
  const auto port = redis.port();
  redis.Kill9();
  EXPECT_FALSE(redis.running());
  redis.Start();
  EXPECT_EQ(redis.port(), port) << "the same port after a restart";
  EXPECT_EQ(redis.Command({"GET", "k"}), "v");
}

TEST(LocalRedis, WithoutAofKill9LosesEverything) {
  LocalRedis redis;
  EXPECT_EQ(redis.Command({"SET", "k", "v"}), "OK");
  redis.Kill9();
  redis.Start();
  EXPECT_EQ(redis.Command({"GET", "k"}), "(nil)");
}

TEST(LocalRedis, AStopFlushesTheAof) {
  LocalRedis redis({.appendonly = true, .appendfsync = "no"});
  EXPECT_EQ(redis.Command({"SET", "k", "v"}), "OK");
  redis.Stop();
  redis.Start();
  EXPECT_EQ(redis.Command({"GET", "k"}), "v");
}

TEST(LocalRedis, TheDestructorLeavesNothingRunningAndNoDirectory) {
  pid_t pid = -1;
  std::filesystem::path dir;
  {
    LocalRedis redis;
    pid = redis.pid();
    dir = redis.dir();
    EXPECT_TRUE(ProcessAlive(pid));
  }
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(LocalRedis, AKilledTestProcessLeavesNoServerRunning) {
  const auto [server, dir] = StartServerInKilledChild([] {
    auto* server = new LocalRedis();  // never destroyed: its process is killed
    return std::pair<pid_t, std::filesystem::path>(server->pid(), server->dir());
  });
  ASSERT_GT(server, 0) << "the child never started its server";
  EXPECT_TRUE(WaitUntil([pid = server] { return !ProcessAlive(pid); }, std::chrono::seconds(5)))
      << "redis-server " << server << " outlived the test process that started it";
  // What a crashed test process does leave (documented in local_redis.hpp): its directory.
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(LocalRedis, KeyPrefixesAreUnique) {
  EXPECT_NE(NewKeyPrefix(), NewKeyPrefix());
  EXPECT_EQ(SharedLocalRedis().Command({"PING"}), "PONG");
  EXPECT_EQ(&SharedLocalRedis(), &SharedLocalRedis());
}

}  // namespace
}  // namespace rocketmart::testing

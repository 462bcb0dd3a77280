// LocalEtcd (tests/support/local_etcd.*): a real etcd per test that answers at once on its own
// ports, keeps its keys across a restart on the same data directory, and leaves nothing running,
// not even when the test process is killed.
#include "support/local_etcd.hpp"

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

std::string Put(const LocalEtcd& etcd, const std::string& key, const std::string& value) {
  return etcd.Post("/v3/kv/put", R"({"key":")" + EtcdBase64(key) + R"(","value":")" +
                                     EtcdBase64(value) + R"("})");
}

std::string Get(const LocalEtcd& etcd, const std::string& key) {
  return etcd.Post("/v3/kv/range", R"({"key":")" + EtcdBase64(key) + R"("})");
}

TEST(LocalEtcd, Base64IsTheStandardPaddedOne) {
  EXPECT_EQ(EtcdBase64(""), "");
  EXPECT_EQ(EtcdBase64("f"), "Zg==");
  EXPECT_EQ(EtcdBase64("fo"), "Zm8=");
  EXPECT_EQ(EtcdBase64("foo"), "Zm9v");
  EXPECT_EQ(EtcdBase64("\xff\xfe"), "//4=");
}

TEST(LocalEtcd, AnswersOnItsClientPortAndRaisesAShortLeaseToTwoSeconds) {
  LocalEtcd etcd;
  EXPECT_TRUE(etcd.running());
  EXPECT_NE(etcd.client_port(), etcd.peer_port());
  EXPECT_EQ(etcd.endpoint(), "http://127.0.0.1:" + std::to_string(etcd.client_port()));
  EXPECT_NE(Put(etcd, "k", "v").find("\"revision\""), std::string::npos);
  EXPECT_NE(Get(etcd, "k").find(EtcdBase64("v")), std::string::npos);
  // The minimum lease TTL the discovery ADR relies on (1.5 x the 1 s election timeout).
  EXPECT_NE(etcd.Post("/v3/lease/grant", R"({"TTL":1})").find(R"("TTL":"2")"), std::string::npos);
}

TEST(LocalEtcd, TwoServersAreApart) {
  LocalEtcd a, b;
  EXPECT_NE(a.client_port(), b.client_port());
  Put(a, "k", "a");
  EXPECT_EQ(Get(b, "k").find(EtcdBase64("a")), std::string::npos);
}

TEST(LocalEtcd, KeysSurviveAKillAndARestartOnTheSameDataDirectoryAndPorts) {
  LocalEtcd etcd;
  Put(etcd, "k", "before");
  const auto port = etcd.client_port();
  etcd.Kill();
  EXPECT_FALSE(etcd.running());
  EXPECT_THROW(Get(etcd, "k"), std::runtime_error) << "a killed etcd does not answer";
  etcd.Start();
  EXPECT_EQ(etcd.client_port(), port);
  EXPECT_NE(Get(etcd, "k").find(EtcdBase64("before")), std::string::npos);
  Put(etcd, "k", "again");
  etcd.Restart();  // a clean stop this time
  EXPECT_NE(Get(etcd, "k").find(EtcdBase64("again")), std::string::npos);
}

TEST(LocalEtcd, TheDestructorLeavesNothingRunningAndNoDirectory) {
  pid_t pid = -1;
  std::filesystem::path dir;
  {
    LocalEtcd etcd;
    pid = etcd.pid();
    dir = etcd.dir();
    EXPECT_TRUE(ProcessAlive(pid));
  }
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(LocalEtcd, AKilledTestProcessLeavesNoServerRunning) {
  const auto [server, dir] = StartServerInKilledChild([] {
    auto* server = new LocalEtcd();  // never destroyed: its process is killed
    return std::pair<pid_t, std::filesystem::path>(server->pid(), server->dir());
  });
  ASSERT_GT(server, 0) << "the child never started its server";
  EXPECT_TRUE(WaitUntil([pid = server] { return !ProcessAlive(pid); }, std::chrono::seconds(5)))
      << "etcd " << server << " outlived the test process that started it";
  // What a crashed test process does leave (documented in local_etcd.hpp): its directory.
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace rocketmart::testing

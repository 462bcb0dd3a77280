// LocalPostgres: a real server per test binary that starts, stops, crashes and restarts on the same
// data, and that never outlives its test process.
#include "support/local_postgres.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/child_process.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

TEST(LocalPostgres, StartsDurableAndServesFreshDatabasesOverSocketAndTcp) {
  LocalPostgres pg;
  ASSERT_TRUE(pg.running());
  EXPECT_GT(pg.port(), 0);
  EXPECT_EQ(pg.QueryValue("postgres", "SHOW fsync"), "on");
  EXPECT_EQ(pg.QueryValue("postgres", "SHOW synchronous_commit"), "on");

  const std::string a = pg.NewDatabase("selftest");
  const std::string b = pg.NewDatabase("selftest");
  EXPECT_NE(a, b);
  EXPECT_EQ(pg.QueryValue(a, "SELECT current_database()"), a);

  PGconn* tcp = PQconnectdb(pg.TcpConnectionString(b).c_str());
  EXPECT_EQ(PQstatus(tcp), CONNECTION_OK) << PQerrorMessage(tcp);
  PQfinish(tcp);
}

TEST(LocalPostgres, StopAndStartKeepTheData) {
  LocalPostgres pg;
  const std::string db = pg.NewDatabase("restart");
  pg.QueryValue(db, "CREATE TABLE t (v int); INSERT INTO t VALUES (7)");
  pg.Stop();
  EXPECT_FALSE(pg.running());
  EXPECT_NE(PQping(pg.ConnectionString().c_str()), PQPING_OK);
  pg.Start();
  EXPECT_EQ(pg.QueryValue(db, "SELECT v FROM t"), "7");
}

TEST(LocalPostgres, Kill9LosesNoCommittedRowAndStartRecovers) {
  LocalPostgres pg;
  const std::string db = pg.NewDatabase("crash");
  pg.QueryValue(db, "CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2)");
  const pid_t old = pg.pid();
  pg.Kill9();
  EXPECT_FALSE(ProcessAlive(old));
  pg.Start();
  EXPECT_EQ(pg.QueryValue(db, "SELECT count(*) FROM t"), "2");
}

TEST(LocalPostgres, DestructorStopsTheServerAndRemovesItsDirectory) {
  pid_t pid = -1;
  std::filesystem::path data;
  {
    LocalPostgres pg;
    pid = pg.pid();
    data = pg.data_dir();
    ASSERT_TRUE(ProcessAlive(pid));
    ASSERT_TRUE(std::filesystem::exists(data));
  }
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(std::filesystem::exists(data.parent_path()));
}

TEST(LocalPostgres, ServerDiesWithATestProcessThatCrashes) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto* pg = new LocalPostgres();  // never destroyed: the process "crashes"
    const std::string report = std::to_string(pg->pid()) + " " + pg->data_dir() + "\n";
    if (::write(fds[1], report.data(), report.size()) < 0) ::_exit(3);
    ::kill(::getpid(), SIGKILL);
  }
  ::close(fds[1]);
  std::string report;
  char buf[512];
  // Up to the newline only: the server inherited the pipe, so EOF would wait for it.
  for (ssize_t n;
       report.find('\n') == std::string::npos && (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
    report.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::istringstream in(report);
  pid_t server = -1;
  std::string data;
  in >> server >> data;
  ASSERT_GT(server, 0) << report;
  EXPECT_TRUE(WaitUntil([pid = server] { return !ProcessAlive(pid); }, std::chrono::seconds(10)))
      << "the postmaster outlived its crashed test process";
  // What a crash leaves behind is the directory; this test removes it (the server is gone).
  std::error_code ignored;
  std::filesystem::remove_all(std::filesystem::path(data).parent_path(), ignored);
}

}  // namespace
}  // namespace rocketmart::testing

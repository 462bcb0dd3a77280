#include "infra/storage/read_connections.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

TEST(ReadConnectionsTest, OneConnectionPerThreadReusedWithinTheThread) {
  testing::TempDir dir{"storage"};
  Database writer(OpenOptions{.path = dir.File("r.db")});
  writer.Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)");

  ReadConnections readers(OpenOptions{.path = dir.File("r.db")});
  Database* main_a = &readers.ForThisThread();
  Database* main_b = &readers.ForThisThread();
  EXPECT_EQ(main_a, main_b);

  Database* other_a = nullptr;
  Database* other_b = nullptr;
  std::int64_t seen = 0;
  std::thread([&] {
    other_a = &readers.ForThisThread();
    other_b = &readers.ForThisThread();
    Statement& select = other_a->Cached("SELECT x FROM t");
    seen = select.Step() ? select.Int64(0) : -1;
    select.Reset();
  }).join();
  EXPECT_NE(other_a, main_a);
  EXPECT_EQ(other_a, other_b);
  EXPECT_EQ(seen, 42);
  EXPECT_EQ(readers.OpenCount(), 2u);

  // Connections are read-only even though the options asked for a writable one.
  EXPECT_THROW(main_a->Exec("INSERT INTO t VALUES (1)"), SqliteError);

  // A second pool on the same thread gets its own connection.
  ReadConnections second(OpenOptions{.path = dir.File("r.db")});
  EXPECT_NE(&second.ForThisThread(), main_a);
}

TEST(ReadConnectionsTest, SeesLaterCommitsOfTheWriter) {
  testing::TempDir dir{"storage"};
  Database writer(OpenOptions{.path = dir.File("r.db")});
  writer.Exec("CREATE TABLE t (x INTEGER)");
  ReadConnections readers(OpenOptions{.path = dir.File("r.db")});
  Database& reader = readers.ForThisThread();
  auto count = [&] {
    Statement& stmt = reader.Cached("SELECT COUNT(*) FROM t");
    std::int64_t n = stmt.Step() ? stmt.Int64(0) : -1;
    stmt.Reset();
    return n;
  };
  EXPECT_EQ(count(), 0);
  writer.Exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(count(), 1);
}

}  // namespace
}  // namespace rocketmart::storage

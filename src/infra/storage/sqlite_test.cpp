#include "infra/storage/sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

TEST(SqliteTest, OpenCreatesParentDirectoriesAndEnablesWal) {
  testing::TempDir dir{"storage"};
  Database db(OpenOptions{.path = dir.File("a/b/c.db")});
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "a/b/c.db"));
  Statement mode = db.Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.Step());
  EXPECT_EQ(mode.Text(0), "wal");
  Statement fk = db.Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(fk.Step());
  EXPECT_EQ(fk.Int64(0), 1);
  Statement sync = db.Prepare("PRAGMA synchronous");
  ASSERT_TRUE(sync.Step());
  EXPECT_EQ(sync.Int64(0), 2);  // FULL
}

TEST(SqliteTest, BindsAndReadsEveryType) {
  testing::TempDir dir{"storage"};
  Database db(OpenOptions{.path = dir.File("t.db")});
  db.Exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)");
  const std::byte blob[] = {std::byte{0}, std::byte{1}, std::byte{255}};
  Statement insert = db.Prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.BindInt64(1, std::int64_t{1} << 40)
      .BindDouble(2, 2.5)
      .BindText(3, std::string_view("héllo\0x", 8))
      .BindBlob(4, blob)
      .BindNull(5);
  EXPECT_FALSE(insert.Step());
  EXPECT_EQ(db.Changes(), 1);
  EXPECT_EQ(db.LastInsertRowId(), 1);

  Statement select = db.Prepare("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(select.Step());
  EXPECT_EQ(select.ColumnCount(), 5);
  EXPECT_EQ(select.Int64(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select.Double(1), 2.5);
  EXPECT_EQ(select.Text(2), std::string("héllo\0x", 8));
  EXPECT_EQ(select.Blob(3), std::vector<std::byte>(std::begin(blob), std::end(blob)));
  EXPECT_TRUE(select.IsNull(4));
  EXPECT_FALSE(select.IsNull(0));
  EXPECT_FALSE(select.Step());
}

TEST(SqliteTest, CachedStatementIsPreparedOnceAndComesBackClean) {
  testing::TempDir dir{"storage"};
  Database db(OpenOptions{.path = dir.File("t.db")});
  db.Exec("CREATE TABLE t (x INTEGER)");
  Statement& first = db.Cached("INSERT INTO t VALUES (?1)");
  first.BindInt64(1, 7);
  first.Step();
  Statement& second = db.Cached("INSERT INTO t VALUES (?1)");
  EXPECT_EQ(&first, &second);
  second.Step();  // Bindings were cleared: inserts NULL, not 7 again.
  Statement count = db.Prepare("SELECT COUNT(*), COUNT(x) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.Int64(0), 2);
  EXPECT_EQ(count.Int64(1), 1);
}

TEST(SqliteTest, ErrorsCarryTheSqliteCode) {
  testing::TempDir dir{"storage"};
  Database db(OpenOptions{.path = dir.File("t.db")});
  db.Exec("CREATE TABLE t (x INTEGER PRIMARY KEY)");
  try {
    db.Prepare("SELEKT 1");
    FAIL() << "expected SqliteError";
  } catch (const SqliteError& e) {
    EXPECT_EQ(e.PrimaryCode(), SQLITE_ERROR);
  }
  db.Exec("INSERT INTO t VALUES (1)");
  try {
    db.Exec("INSERT INTO t VALUES (1)");
    FAIL() << "expected SqliteError";
  } catch (const SqliteError& e) {
    EXPECT_TRUE(e.IsConstraint());
    EXPECT_FALSE(e.IsBusy());
  }

  // A second writer finds the write lock taken and gives up after its (zero) busy timeout.
  Database other(OpenOptions{.path = dir.File("t.db"), .busy_timeout_ms = 0});
  db.Exec("BEGIN IMMEDIATE");
  try {
    other.Exec("BEGIN IMMEDIATE");
    FAIL() << "expected SqliteError";
  } catch (const SqliteError& e) {
    EXPECT_TRUE(e.IsBusy()) << e.what();
    EXPECT_FALSE(e.IsFull());
  }
  db.Exec("ROLLBACK");
}

TEST(SqliteTest, ReadOnlyConnectionRefusesWritesAndMissingFiles) {
  testing::TempDir dir{"storage"};
  Database writer(OpenOptions{.path = dir.File("t.db")});
  writer.Exec("CREATE TABLE t (x INTEGER)");
  Database reader(OpenOptions{.path = dir.File("t.db"), .read_only = true});
  EXPECT_THROW(reader.Exec("INSERT INTO t VALUES (1)"), SqliteError);
  EXPECT_THROW(Database(OpenOptions{.path = dir.File("missing.db"), .read_only = true}),
               SqliteError);
}

TEST(SqliteTest, DatabaseIsMovable) {
  testing::TempDir dir{"storage"};
  Database a(OpenOptions{.path = dir.File("t.db")});
  a.Exec("CREATE TABLE t (x INTEGER)");
  a.Cached("INSERT INTO t VALUES (1)").Step();
  Database b = std::move(a);
  b.Cached("INSERT INTO t VALUES (1)").Step();
  Statement count = b.Prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.Int64(0), 2);
}

}  // namespace
}  // namespace rocketmart::storage

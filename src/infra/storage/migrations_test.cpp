#include "infra/storage/migrations.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "infra/storage/group_commit_writer.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

constexpr Migration kV1{1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"};
constexpr Migration kV2{2, "items_price", "ALTER TABLE items ADD COLUMN price INTEGER"};

std::int64_t Scalar(Database& db, const std::string& sql) {
  Statement stmt = db.Prepare(sql);
  if (!stmt.Step()) return -1;
  return stmt.Int64(0);
}

bool TableExists(Database& db, const std::string& name) {
  return Scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='" + name +
                        "'") == 1;
}

class MigrationsTest : public ::testing::Test {
 protected:
  testing::TempDir dir_{"storage"};
  Database db_{OpenOptions{.path = dir_.File("svc.db")}};
};

TEST_F(MigrationsTest, AppliesOnceAndRerunIsANoOp) {
  const std::vector<Migration> migrations = {kV1, kV2};
  EXPECT_EQ(SchemaVersion(db_), 0);
  Migrate(db_, migrations);
  EXPECT_EQ(SchemaVersion(db_), 2);
  EXPECT_EQ(Scalar(db_, "SELECT COUNT(*) FROM schema_migrations"), 2);
  db_.Exec("INSERT INTO items (name, price) VALUES ('a', 1)");

  Migrate(db_, migrations);  // Would fail (duplicate column) if v2 ran again.
  EXPECT_EQ(SchemaVersion(db_), 2);
  EXPECT_EQ(Scalar(db_, "SELECT COUNT(*) FROM schema_migrations"), 2);
  EXPECT_EQ(Scalar(db_, "SELECT COUNT(*) FROM items"), 1);
}

TEST_F(MigrationsTest, InternalTablesUseTheirOwnNumbering) {
  Migrate(db_, std::vector<Migration>{kV1});
  EXPECT_TRUE(TableExists(db_, "outbox"));
  EXPECT_TRUE(TableExists(db_, "event_cursors"));
  EXPECT_TRUE(TableExists(db_, "event_dead_letters"));
  EXPECT_TRUE(TableExists(db_, "processed_events"));
  EXPECT_EQ(Scalar(db_, "SELECT MIN(version) FROM schema_migrations"), 1);
  EXPECT_GE(Scalar(db_, "SELECT COUNT(*) FROM storage_internal_migrations"), 1);
}

TEST_F(MigrationsTest, AppliesOnlyNewMigrationsOnUpgrade) {
  Migrate(db_, std::vector<Migration>{kV1});
  EXPECT_EQ(SchemaVersion(db_), 1);
  Migrate(db_, std::vector<Migration>{kV1, kV2});
  EXPECT_EQ(SchemaVersion(db_), 2);
  db_.Exec("INSERT INTO items (name, price) VALUES ('a', 1)");
}

TEST_F(MigrationsTest, RefusesADatabaseNewerThanTheCode) {
  Migrate(db_, std::vector<Migration>{kV1, kV2});
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{kV1}), MigrationError);
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{}), MigrationError);
}

TEST_F(MigrationsTest, RejectsVersionsThatDoNotStrictlyIncrease) {
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{kV2, kV1}), MigrationError);
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{kV1, kV1}), MigrationError);
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{{0, "zero", "SELECT 1"}}), MigrationError);
  EXPECT_EQ(SchemaVersion(db_), 0);
}

TEST_F(MigrationsTest, FailingMigrationLeavesNoPartialSchemaNorBookkeeping) {
  const Migration broken{2, "broken",
                         "CREATE TABLE half (x INTEGER); INSERT INTO no_such_table VALUES (1);"};
  EXPECT_THROW(Migrate(db_, std::vector<Migration>{kV1, broken}), MigrationError);
  EXPECT_EQ(SchemaVersion(db_), 1);
  EXPECT_TRUE(TableExists(db_, "items"));
  EXPECT_FALSE(TableExists(db_, "half"));
  EXPECT_FALSE(db_.InTransaction());
  // Fixing the migration lets it apply.
  Migrate(db_, std::vector<Migration>{kV1, kV2});
  EXPECT_EQ(SchemaVersion(db_), 2);
}

TEST(MigrationsWriterTest, RunsThroughTheWriterConnectionBeforeStartAndInsideAJob) {
  testing::TempDir dir{"storage"};
  GroupCommitWriter writer(OpenOptions{.path = dir.File("svc.db")});
  Migrate(writer.Connection(), std::vector<Migration>{kV1});
  writer.Start();
  // Inside a writer job the migration uses savepoints instead of BEGIN.
  writer.RunSync([](Database& db) { Migrate(db, std::vector<Migration>{kV1, kV2}); });
  int version = 0;
  writer.RunSync([&](Database& db) { version = SchemaVersion(db); });
  EXPECT_EQ(version, 2);
  EXPECT_THROW(writer.Connection(), std::logic_error);
  writer.Stop();
}

}  // namespace
}  // namespace rocketmart::storage

#include "infra/storage/write_probe.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

TEST(WriteProbe, CommitsARealWriteEachTime) {
  testing::TempDir dir{"storage"};
  Database db(OpenOptions{.path = dir.File("p.db")});
  ProbeWrite(db);
  ProbeWrite(db);
  EXPECT_FALSE(db.InTransaction());
  Database reader(OpenOptions{.path = dir.File("p.db"), .read_only = true});
  Statement probes = reader.Prepare("SELECT probes FROM storage_write_probe WHERE id = 1");
  ASSERT_TRUE(probes.Step());
  EXPECT_EQ(probes.Int64(0), 2);
}

TEST(WriteProbe, AReadOnlyConnectionFailsAndLeavesNoTransactionOpen) {
  testing::TempDir dir{"storage"};
  { Database create(OpenOptions{.path = dir.File("p.db")}); }
  // SQLite's own read-only mode: what a file the process may not write is opened as.
  Database db(OpenOptions{.path = dir.File("p.db"), .read_only = true});
  EXPECT_THROW(ProbeWrite(db), SqliteError);
  EXPECT_FALSE(db.InTransaction());
}

TEST(WriteProbe, ADirectoryProbeSaysWhyItCannotWrite) {
  testing::TempDir dir{"storage"};
  EXPECT_EQ(ProbeWritableDirectory(dir.path() / "mail"), "");
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() / "mail"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "mail"));  // the probe file is gone
  // A path under a regular file can never be created, whoever runs the test.
  std::ofstream(dir.path() / "file") << "x";
  const std::string why = ProbeWritableDirectory(dir.path() / "file" / "mail");
  EXPECT_NE(why.find("cannot create"), std::string::npos) << why;
}

}  // namespace
}  // namespace rocketmart::storage

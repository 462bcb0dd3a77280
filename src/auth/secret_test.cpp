#include "auth/secret.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "auth/random.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::auth {
namespace {

namespace fs = std::filesystem;

class SecretTest : public ::testing::Test {
 protected:
  rocketmart::testing::TempDir temp_{"secret"};
  const fs::path& dir_ = temp_.path();
};

TEST_F(SecretTest, CreatesThenReloads) {
  const fs::path file = dir_ / "a" / "secrets" / "jwt.key";
  auto created = LoadOrCreateSecret(file);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->size(), 64u);
  EXPECT_EQ(created->find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto again = LoadOrCreateSecret(file);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *created);
}

TEST_F(SecretTest, ReadsOperatorFileTrimmingNewline) {
  fs::create_directories(dir_);
  const std::string secret(40, 'z');
  std::ofstream(dir_ / "key") << secret << "\r\n";
  auto loaded = LoadOrCreateSecret(dir_ / "key");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, secret);
}

TEST_F(SecretTest, RejectsShortSecret) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "key") << std::string(31, 'z') << "\n";
  auto loaded = LoadOrCreateSecret(dir_ / "key");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, Errc::kValidationFailed);
  EXPECT_NE(loaded.error().message.find("key"), std::string::npos);
}

TEST(RandomTest, HexOfRequestedLengthAndDistinct) {
  EXPECT_EQ(RandomHex(16).size(), 32u);
  EXPECT_EQ(RandomHex(0), "");
  EXPECT_NE(RandomHex(16), RandomHex(16));
}

}  // namespace
}  // namespace rocketmart::auth

#include "auth/identity.hpp"

#include <gtest/gtest.h>

namespace rocketmart::auth {
namespace {

Claims Access() {
  Claims c;
  c.member_id = 7;
  c.role = "admin";
  c.type = "access";
  c.token_id = "abc";
  c.expires_at = TimePoint{std::chrono::seconds{1'800'000'900}};
  return c;
}

TEST(IdentityTest, FromAccessClaims) {
  auto id = IdentityFromClaims(Access());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->member_id, 7);
  EXPECT_EQ(id->role, Role::kAdmin);
  EXPECT_EQ(id->token_id, "abc");
  EXPECT_EQ(id->expires_at, Access().expires_at);
}

TEST(IdentityTest, RejectsRefreshUnknownRoleAndBadMember) {
  Claims c = Access();
  c.type = "refresh";
  EXPECT_EQ(IdentityFromClaims(c).error().code, Errc::kUnauthenticated);
  c = Access();
  c.role = "Admin";
  EXPECT_FALSE(IdentityFromClaims(c).ok());
  c = Access();
  c.member_id = 0;
  EXPECT_FALSE(IdentityFromClaims(c).ok());
}

TEST(IdentityTest, RoleNames) {
  for (Role r : {Role::kUser, Role::kAdmin}) EXPECT_EQ(ParseRole(RoleName(r)), r);
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_FALSE(ParseRole("").has_value());
  EXPECT_FALSE(ParseRole("USER").has_value());
}

}  // namespace
}  // namespace rocketmart::auth

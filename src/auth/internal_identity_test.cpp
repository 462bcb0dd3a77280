#include "auth/internal_identity.hpp"

#include <gtest/gtest.h>

namespace rocketmart::auth {
namespace {

Keyring Ring(const std::string& secret) {
  Keyring ring;
  EXPECT_TRUE(ring.Add({"i1", secret}, true).ok());
  return ring;
}

const TimePoint kNow = FromUnixMillis(1'800'000'000'000);

Identity Member() {
  return Identity{42, Role::kAdmin, "jti-1", kNow + std::chrono::minutes(10), true};
}

TEST(InternalIdentity, RoundTripsTheIdentity) {
  const Keyring ring = Ring(std::string(32, 'k'));
  auto id = VerifyInternalIdentity(SignInternalIdentity(Member(), ring, kNow), ring, kNow);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->member_id, 42);
  EXPECT_EQ(id->role, Role::kAdmin);
  EXPECT_EQ(id->token_id, "jti-1");
  EXPECT_TRUE(id->email_verified);
  EXPECT_EQ(id->expires_at, kNow + kInternalLifetime);
}

TEST(InternalIdentity, AnotherKeyIsRefused) {
  const std::string token = SignInternalIdentity(Member(), Ring(std::string(32, 'k')), kNow);
  EXPECT_FALSE(VerifyInternalIdentity(token, Ring(std::string(32, 'x')), kNow).ok());
}

TEST(InternalIdentity, ExpiresAfterItsShortLifeOrWithItsAccessToken) {
  const Keyring ring = Ring(std::string(32, 'k'));
  const std::string token = SignInternalIdentity(Member(), ring, kNow);
  EXPECT_TRUE(VerifyInternalIdentity(token, ring, kNow + kInternalLifetime).ok());
  EXPECT_FALSE(
      VerifyInternalIdentity(token, ring, kNow + kInternalLifetime + std::chrono::seconds(6)).ok());
  Identity ending = Member();
  ending.expires_at = kNow + std::chrono::seconds(3);
  const std::string short_token = SignInternalIdentity(ending, ring, kNow);
  EXPECT_FALSE(VerifyInternalIdentity(short_token, ring, kNow + std::chrono::seconds(10)).ok());
}

TEST(InternalIdentity, AnAccessTokenSignedWithTheSameKeyIsNotAnInternalOne) {
  const Keyring ring = Ring(std::string(32, 'k'));
  Claims access;
  access.member_id = 42;
  access.role = "admin";
  access.type = std::string(kAccessType);
  access.issued_at = access.not_before = kNow;
  access.expires_at = kNow + std::chrono::minutes(5);
  access.issuer = std::string(kInternalIssuer);
  access.audience = std::string(kInternalAudience);
  EXPECT_FALSE(VerifyInternalIdentity(Sign(access, ring), ring, kNow).ok());
}

}  // namespace
}  // namespace rocketmart::auth

#include "auth/internal_identity.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

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

// The gateway sends one signed token for an identity for a while (a drop's buyer sends many
// requests a second); a change of identity, of key, or the reuse window's end signs afresh.
TEST(InternalIdentity, TheGatewayReusesATokenForTheSameIdentityAndKeyForAWhile) {
  const Keyring ring = Ring(std::string(32, 'k'));
  const std::string first = SignInternalIdentityReusing(Member(), ring, kNow);
  EXPECT_EQ(SignInternalIdentityReusing(Member(), ring, kNow + std::chrono::seconds(9)), first);
  const TimePoint later = kNow + kInternalReuse;
  const std::string fresh = SignInternalIdentityReusing(Member(), ring, later);
  EXPECT_NE(fresh, first);
  auto verified = VerifyInternalIdentity(fresh, ring, later);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->expires_at, later + kInternalLifetime);

  Identity user = Member();
  user.role = Role::kUser;
  EXPECT_NE(SignInternalIdentityReusing(user, ring, later), fresh) << "another role";
  Identity other_session = Member();
  other_session.token_id = "jti-2";
  auto session =
      VerifyInternalIdentity(SignInternalIdentityReusing(other_session, ring, later), ring, later);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->token_id, "jti-2");
  // Another key under the same kid: what it signs verifies with it, not with the first.
  const Keyring rotated = Ring(std::string(32, 'x'));
  const std::string with_rotated = SignInternalIdentityReusing(Member(), rotated, later);
  EXPECT_TRUE(VerifyInternalIdentity(with_rotated, rotated, later).ok());
  EXPECT_FALSE(VerifyInternalIdentity(with_rotated, ring, later).ok());
}

// Tokens are signed as of their reuse window's start: two threads (or two gateways) signing for
// one identity within a window send the same bytes, so a service verifies them once.
TEST(InternalIdentity, OneIdentitySignsTheSameTokenOnEveryThreadWithinAWindow) {
  const Keyring ring = Ring(std::string(32, 'k'));
  const TimePoint inside = kNow + std::chrono::milliseconds(7'250);
  const std::string here = SignInternalIdentityReusing(Member(), ring, inside);
  std::string there;
  std::thread([&] { there = SignInternalIdentityReusing(Member(), ring, kNow); }).join();
  EXPECT_EQ(here, there);
  auto verified = VerifyInternalIdentity(here, ring, inside);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->expires_at, kNow + kInternalLifetime) << "signed as of the window's start";
  EXPECT_GE(verified->expires_at - inside, kInternalLifetime - kInternalReuse);
}

// A service reusing a verification checks expiry as verification does (5 s of leeway).
TEST(InternalIdentity, AReusedVerificationExpiresWithItsToken) {
  const Keyring ring = Ring(std::string(32, 'k'));
  auto id = VerifyInternalIdentity(SignInternalIdentity(Member(), ring, kNow), ring, kNow);
  ASSERT_TRUE(id.ok());
  const TimePoint expiry = kNow + kInternalLifetime;
  EXPECT_FALSE(InternalIdentityExpired(*id, expiry + std::chrono::seconds(5)));
  EXPECT_TRUE(InternalIdentityExpired(*id, expiry + std::chrono::seconds(6)));
  EXPECT_FALSE(VerifyInternalIdentity(SignInternalIdentity(Member(), ring, kNow), ring,
                                      expiry + std::chrono::seconds(6))
                   .ok());
}

TEST(InternalIdentity, AnotherKeyIsRefused) {
  const std::string token = SignInternalIdentity(Member(), Ring(std::string(32, 'k')), kNow);
  EXPECT_FALSE(VerifyInternalIdentity(token, Ring(std::string(32, 'x')), kNow).ok());
}

// A rotation with every process restarted in turn: 1. all learn the new key (accepted), still
// signing with the old; 2. all sign with the new, accepting the old; 3. the old is dropped. At
// every moment, whatever a process of the step before or after signs, a process of this step
// accepts.
TEST(InternalIdentity, TheKeyRotatesInThreeStepsWithNoRequestRefused) {
  const std::string old_key(32, 'o'), new_key(32, 'n');
  std::vector<Keyring> steps;
  for (const auto& [signing, accepted] : std::vector<std::pair<std::string, std::string>>{
           {old_key, ""}, {old_key, new_key}, {new_key, old_key}, {new_key, ""}}) {
    auto ring = InternalKeyring(signing, accepted);
    ASSERT_TRUE(ring.ok()) << ring.error().message;
    steps.push_back(std::move(*ring));
  }
  for (std::size_t step = 0; step + 1 < steps.size(); ++step) {
    for (const std::size_t signer : {step, step + 1}) {
      for (const std::size_t verifier : {step, step + 1}) {
        const std::string token = SignInternalIdentity(Member(), steps[signer], kNow);
        EXPECT_TRUE(VerifyInternalIdentity(token, steps[verifier], kNow).ok())
            << "signed at step " << signer << ", verified at step " << verifier;
      }
    }
  }
  // Skipping a step refuses: the old key alone does not accept the new one, nor the reverse.
  EXPECT_FALSE(
      VerifyInternalIdentity(SignInternalIdentity(Member(), steps[3], kNow), steps[0], kNow).ok());
  EXPECT_FALSE(
      VerifyInternalIdentity(SignInternalIdentity(Member(), steps[0], kNow), steps[3], kNow).ok());
  EXPECT_EQ(InternalKeyring(old_key, old_key).error().code, Errc::kValidationFailed);
  EXPECT_EQ(InternalKeyring(old_key, "short").error().code, Errc::kValidationFailed);
  auto first = InternalKeyring(old_key, "");
  auto again = InternalKeyring(old_key, "");
  EXPECT_EQ(first->active_kid(), again->active_kid()) << "every process names the key alike";
  EXPECT_EQ(first->active_kid().find(old_key), std::string::npos);
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

// The gateway's authenticator keeps verified tokens in a per-thread cache. These tests pin that a
// cached token is still refused the moment a fresh verification would refuse it.
#include "services/gateway/jwt_authenticator.hpp"

#include <gtest/gtest.h>

#include <string>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::gateway {
namespace {

using std::chrono::seconds;

auth::VerifyOptions Options() {
  auth::VerifyOptions o;
  o.issuer = "rocketmart";
  o.audience = "rocketmart-api";
  o.leeway = seconds{30};
  return o;
}

auth::Keyring Ring(char fill) {
  auth::Keyring ring;
  EXPECT_TRUE(ring.Add({"k1", std::string(32, fill)}, true).ok());
  return ring;
}

std::string Token(const auth::Keyring& ring, TimePoint now, std::int64_t member = 7) {
  auth::Claims c;
  c.member_id = member;
  c.role = "user";
  c.type = std::string(auth::kAccessType);
  c.issued_at = now;
  c.not_before = now;
  c.expires_at = now + seconds{900};
  c.issuer = "rocketmart";
  c.audience = "rocketmart-api";
  c.email_verified = true;
  return auth::Sign(c, ring);
}

class JwtAuthenticatorTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  metrics::Registry metrics_;
};

TEST_F(JwtAuthenticatorTest, CachedTokenExpiresOnTime) {
  JwtAuthenticator authn(Ring('a'), Options(), clock_, metrics_);
  const std::string token = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(authn.Authenticate(token).ok());
  ASSERT_TRUE(authn.Authenticate(token).ok());  // from the cache
  clock_.Advance(seconds{900 + 30});
  EXPECT_TRUE(authn.Authenticate(token).ok());  // inside the leeway
  clock_.Advance(seconds{1});
  auto late = authn.Authenticate(token);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kUnauthenticated);
  EXPECT_FALSE(authn.Authenticate(token).ok());  // and stays refused
}

TEST_F(JwtAuthenticatorTest, CachedTokenIsRefusedOnceRevoked) {
  JwtAuthenticator authn(Ring('a'), Options(), clock_, metrics_);
  TokenDenylist denylist;
  authn.SetDenylist(&denylist);
  const std::string token = Token(Ring('a'), clock_.Now());
  auto first = authn.Authenticate(token);
  ASSERT_TRUE(first.ok());
  denylist.DenyToken(7, first->token_id, first->expires_at, clock_.Now());
  EXPECT_FALSE(authn.Authenticate(token).ok());
  // Logging out everywhere: every token issued before the cut-off is refused, cached or not.
  const std::string other = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(authn.Authenticate(other).ok());
  denylist.InvalidateBefore(7, clock_.Now() + seconds{1});
  EXPECT_FALSE(authn.Authenticate(other).ok());
}

TEST_F(JwtAuthenticatorTest, OnlyTheExactBytesHit) {
  JwtAuthenticator authn(Ring('a'), Options(), clock_, metrics_);
  const std::string token = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(authn.Authenticate(token).ok());
  for (std::size_t i = 0; i < token.size(); i += 7) {
    std::string changed = token;
    changed[i] = changed[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(authn.Authenticate(changed).ok()) << "byte " << i;
  }
  EXPECT_FALSE(authn.Authenticate(token + "A").ok());
  EXPECT_FALSE(authn.Authenticate(token.substr(0, token.size() - 1)).ok());
}

TEST_F(JwtAuthenticatorTest, AnotherAuthenticatorOnTheSameThreadDoesNotShareTheCache) {
  JwtAuthenticator first(Ring('a'), Options(), clock_, metrics_);
  JwtAuthenticator second(Ring('b'), Options(), clock_, metrics_);
  const std::string token = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(first.Authenticate(token).ok());
  EXPECT_FALSE(second.Authenticate(token).ok());
  EXPECT_TRUE(first.Authenticate(token).ok());
}

TEST_F(JwtAuthenticatorTest, ManyDistinctTokensStayCorrectPastTheCacheBound) {
  JwtAuthenticator authn(Ring('a'), Options(), clock_, metrics_);
  for (std::int64_t member = 1; member <= 5000; ++member) {
    auto id = authn.Authenticate(Token(Ring('a'), clock_.Now(), member));
    ASSERT_TRUE(id.ok());
    ASSERT_EQ(id->member_id, member);
  }
}

}  // namespace
}  // namespace rocketmart::gateway

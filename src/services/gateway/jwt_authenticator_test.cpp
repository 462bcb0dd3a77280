// The gateway's authenticator keeps verified tokens in a per-thread cache. These tests pin that a
// cached token is still refused the moment a fresh verification would refuse it.
#include "services/gateway/jwt_authenticator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "auth/internal_identity.hpp"
#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/async/run.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "services/gateway/internal_authenticator.hpp"

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

std::string Token(const auth::Keyring& ring, TimePoint now, std::int64_t member = 7,
                  std::string jti = "") {
  auth::Claims c;
  c.member_id = member;
  c.token_id = std::move(jti);
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
  void DenyToken(std::int64_t member, const std::string& jti, TimePoint expires_at) {
    ASSERT_TRUE(async::RunToCompletion(denylist_.DenyToken(member, jti, expires_at)).ok());
  }
  void DenyFamily(std::int64_t member, const std::string& family, TimePoint expires_at) {
    ASSERT_TRUE(async::RunToCompletion(denylist_.DenyFamily(member, family, expires_at)).ok());
  }
  void InvalidateBefore(std::int64_t member, TimePoint valid_after) {
    ASSERT_TRUE(async::RunToCompletion(denylist_.InvalidateBefore(member, valid_after)).ok());
  }

  FakeClock clock_;
  metrics::Registry metrics_;
  InMemoryTokenDenylist denylist_{clock_};
};

TEST_F(JwtAuthenticatorTest, CachedTokenExpiresOnTime) {
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
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
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
  const std::string token = Token(Ring('a'), clock_.Now());
  auto first = authn.Authenticate(token);
  ASSERT_TRUE(first.ok());
  DenyToken(7, first->token_id, first->expires_at);
  EXPECT_FALSE(authn.Authenticate(token).ok());
  // Logging out everywhere: every token issued before the cut-off is refused, cached or not.
  const std::string other = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(authn.Authenticate(other).ok());
  InvalidateBefore(7, clock_.Now() + seconds{1});
  EXPECT_FALSE(authn.Authenticate(other).ok());
}

TEST_F(JwtAuthenticatorTest, ADeniedFamilyRefusesEveryAccessTokenOfThatSessionOnly) {
  // Members issue access tokens whose jti is "<refresh family>.<random>". Refresh-token reuse
  // (and logout) deny the whole family: its earlier and later access tokens, cached or not.
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
  const std::string before_refresh = Token(Ring('a'), clock_.Now(), 7, "fam1.aaaa");
  const std::string after_refresh = Token(Ring('a'), clock_.Now(), 7, "fam1.bbbb");
  const std::string other_session = Token(Ring('a'), clock_.Now(), 7, "fam2.cccc");
  const std::string prefix_lookalike = Token(Ring('a'), clock_.Now(), 7, "fam1x.dddd");
  const std::string other_member = Token(Ring('a'), clock_.Now(), 8, "fam1.eeee");
  for (const auto* t :
       {&before_refresh, &after_refresh, &other_session, &prefix_lookalike, &other_member}) {
    ASSERT_TRUE(authn.Authenticate(*t).ok());  // now cached
  }
  DenyFamily(7, "fam1", clock_.Now() + seconds{900});
  EXPECT_FALSE(authn.Authenticate(before_refresh).ok());
  EXPECT_FALSE(authn.Authenticate(after_refresh).ok());
  EXPECT_TRUE(authn.Authenticate(other_session).ok());
  EXPECT_TRUE(authn.Authenticate(prefix_lookalike).ok());
  EXPECT_TRUE(authn.Authenticate(other_member).ok());
  // A token without a family (minted by `rocketmart token`) is never taken for one.
  DenyFamily(7, "", clock_.Now() + seconds{900});
  EXPECT_TRUE(authn.Authenticate(Token(Ring('a'), clock_.Now(), 7)).ok());
}

TEST_F(JwtAuthenticatorTest, ARevocationReachesEveryThreadsCacheAtOnce) {
  // Four request threads keep authenticating (so each has the token cached) while another
  // revokes it: no thread may accept it after the revocation returned, and the tokens nobody
  // revoked keep working everywhere.
  constexpr int kThreads = 4;
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
  const std::string revoked = Token(Ring('a'), clock_.Now(), 7);
  const std::string kept = Token(Ring('a'), clock_.Now(), 8);
  const auto revoked_identity = authn.Authenticate(revoked);
  ASSERT_TRUE(revoked_identity.ok());
  std::atomic<bool> revocation_done{false};
  std::latch warmed(kThreads);  // each thread counts down once, after its first round
  std::atomic<int> accepted_after{0};
  std::atomic<int> kept_refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      bool counted = false;
      // Until a thousand rounds after the revocation, so every thread checks after it.
      for (int rounds_after = 0; rounds_after < 1000;) {
        const bool done_before = revocation_done.load(std::memory_order_acquire);
        const bool ok = authn.Authenticate(revoked).ok();
        if (done_before) {
          ++rounds_after;
          if (ok) accepted_after.fetch_add(1);
        }
        if (!authn.Authenticate(kept).ok()) kept_refused.fetch_add(1);
        if (!counted) {
          counted = true;
          warmed.count_down();
        }
      }
    });
  }
  warmed.wait();  // every cache holds the token
  DenyToken(7, revoked_identity->token_id, revoked_identity->expires_at);
  revocation_done.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted_after.load(), 0);
  EXPECT_EQ(kept_refused.load(), 0);
  EXPECT_FALSE(authn.Authenticate(revoked).ok());
}

TEST_F(JwtAuthenticatorTest, OnlyTheExactBytesHit) {
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
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
  JwtAuthenticator first(Ring('a'), Options(), denylist_, clock_, metrics_);
  JwtAuthenticator second(Ring('b'), Options(), denylist_, clock_, metrics_);
  const std::string token = Token(Ring('a'), clock_.Now());
  ASSERT_TRUE(first.Authenticate(token).ok());
  EXPECT_FALSE(second.Authenticate(token).ok());
  EXPECT_TRUE(first.Authenticate(token).ok());
}

TEST_F(JwtAuthenticatorTest, ManyDistinctTokensStayCorrectPastTheCacheBound) {
  JwtAuthenticator authn(Ring('a'), Options(), denylist_, clock_, metrics_);
  for (std::int64_t member = 1; member <= 5000; ++member) {
    auto id = authn.Authenticate(Token(Ring('a'), clock_.Now(), member));
    ASSERT_TRUE(id.ok());
    ASSERT_EQ(id->member_id, member);
  }
}

// A service verifies the gateway's internal token once per thread and reuses it: still refused
// the moment a fresh verification would refuse it (expiry), and a forged one never verifies.
TEST_F(JwtAuthenticatorTest, AServiceReusesAnInternalVerificationUntilTheTokenExpires) {
  auto keys = auth::InternalKeyring(std::string(32, 'i'), "");
  ASSERT_TRUE(keys.ok());
  InternalIdentityAuthenticator authn(*keys, clock_, metrics_);
  const auth::Identity member{7, auth::Role::kUser, "jti", clock_.Now() + seconds{900}, true};
  const std::string token = auth::SignInternalIdentity(member, *keys, clock_.Now());
  ASSERT_TRUE(authn.Authenticate(token).ok());
  auto cached = authn.Authenticate(token);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->member_id, 7);
  EXPECT_EQ(cached->token_id, "jti");
  clock_.Advance(auth::kInternalLifetime + seconds{5});
  EXPECT_TRUE(authn.Authenticate(token).ok());  // inside the leeway
  clock_.Advance(seconds{1});
  EXPECT_FALSE(authn.Authenticate(token).ok());
  EXPECT_FALSE(authn.Authenticate(token).ok());  // and stays refused
  std::string forged = auth::SignInternalIdentity(member, *keys, clock_.Now());
  char& in_signature = forged[forged.size() - 10];
  in_signature = in_signature == 'A' ? 'B' : 'A';
  EXPECT_FALSE(authn.Authenticate(forged).ok());
}

}  // namespace
}  // namespace rocketmart::gateway

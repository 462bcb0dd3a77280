// Contract of the token deny-list ports (services/gateway/ports/token_denylist.hpp), checked only
// through TokenDenials (write) and RevokedTokens (read).
//
// The promise: once a denial's awaitable completed with Ok, the instance that took it refuses the
// tokens it covers at once, and every other instance over the same store within the adapter's
// propagation bound; a token denial covers that jti only, a family denial every jti
// "<family>.<anything>" of that member only, an "issued before" instant every earlier iat of that
// member and never moves back; denials are idempotent and outlive the pruning of others until
// they expire; parallel denials from many writers all land; after CatchUp on an instance, every
// denial completed before on any instance is in its answers at once.
#pragma once

#include <gtest/gtest.h>

#include <barrier>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/async/run.hpp"
#include "services/gateway/ports/token_denylist.hpp"
#include "support/wait.hpp"

namespace rocketmart::gateway::contract {

// One instance of the adapter: its two sides.
struct DenylistInstance {
  TokenDenials& denials;
  const RevokedTokens& revoked;
};

// Owns the store and every instance opened over it.
class DenylistFixture {
 public:
  virtual ~DenylistFixture() = default;
  // An instance over the fixture's store; each call opens another one (a second gateway process)
  // where the adapter has such a thing. The first call opens the first.
  virtual DenylistInstance Open() = 0;
  virtual FakeClock& clock() = 0;
  // How long another instance may take to see a denial.
  virtual std::chrono::milliseconds propagation() const = 0;
};

using DenylistFactory = std::unique_ptr<DenylistFixture> (*)();

class TokenDenylistContract : public ::testing::TestWithParam<DenylistFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam()(); }

  static void Ok(Status st) { ASSERT_TRUE(st.ok()) << st.error().message; }
  static void DenyToken(DenylistInstance& in, std::int64_t member, std::string jti,
                        TimePoint until) {
    Ok(async::RunToCompletion(in.denials.DenyToken(member, std::move(jti), until)));
  }
  static void DenyFamily(DenylistInstance& in, std::int64_t member, std::string family,
                         TimePoint until) {
    Ok(async::RunToCompletion(in.denials.DenyFamily(member, std::move(family), until)));
  }
  static void InvalidateBefore(DenylistInstance& in, std::int64_t member, TimePoint after) {
    Ok(async::RunToCompletion(in.denials.InvalidateBefore(member, after)));
  }
  TimePoint Now() { return fixture_->clock().Now(); }
  TimePoint Later() { return Now() + std::chrono::minutes{15}; }

  std::unique_ptr<DenylistFixture> fixture_;
};

TEST_P(TokenDenylistContract, NothingIsRevokedBeforeAnyDenial) {
  DenylistInstance a = fixture_->Open();
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam.a", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(7, "", Now()));
}

TEST_P(TokenDenylistContract, ADeniedTokenIsRefusedAtOnceAndNoOtherIs) {
  DenylistInstance a = fixture_->Open();
  DenyToken(a, 7, "fam.a", Later());
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam.a", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam.b", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(8, "fam.a", Now()));  // another member's jti
}

TEST_P(TokenDenylistContract, ADeniedFamilyCoversEveryTokenOfThatSessionOnly) {
  DenylistInstance a = fixture_->Open();
  DenyFamily(a, 7, "fam1", Later());
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam1.aaaa", Now()));
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam1.bbbb", Now()));  // issued after the denial, too
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam2.cccc", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam1x.dddd", Now()));  // a prefix is not the family
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam1", Now()));        // no family part at all
  EXPECT_FALSE(a.revoked.IsRevoked(8, "fam1.eeee", Now()));   // another member
}

TEST_P(TokenDenylistContract, AnEmptyFamilyDeniesNothing) {
  DenylistInstance a = fixture_->Open();
  DenyFamily(a, 7, "", Later());
  EXPECT_FALSE(a.revoked.IsRevoked(7, "plainjti", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(7, ".x", Now()));
}

TEST_P(TokenDenylistContract, IssuedBeforeVoidsEarlierTokensAndNeverMovesBack) {
  DenylistInstance a = fixture_->Open();
  const TimePoint cut = Now() + std::chrono::seconds{1};
  InvalidateBefore(a, 7, cut);
  EXPECT_TRUE(a.revoked.IsRevoked(7, "any.jti", cut - std::chrono::seconds{1}));
  EXPECT_FALSE(a.revoked.IsRevoked(7, "any.jti", cut));  // issued at the cut: lives
  EXPECT_FALSE(a.revoked.IsRevoked(8, "any.jti", cut - std::chrono::seconds{1}));
  // An older instant arriving late (a replay, a slow publisher) does not un-revoke anything.
  InvalidateBefore(a, 7, cut - std::chrono::seconds{10});
  EXPECT_TRUE(a.revoked.IsRevoked(7, "any.jti", cut - std::chrono::seconds{1}));
}

TEST_P(TokenDenylistContract, DenialsAreIdempotent) {
  DenylistInstance a = fixture_->Open();
  for (int i = 0; i < 3; ++i) {
    DenyToken(a, 7, "fam.a", Later());
    DenyFamily(a, 7, "fam9", Later());
    InvalidateBefore(a, 7, Now());
  }
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam.a", Now()));
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam9.x", Now()));
  EXPECT_FALSE(a.revoked.IsRevoked(7, "fam.b", Now()));
}

TEST_P(TokenDenylistContract, ADenialLastsUntilItExpiresWhateverIsPrunedMeanwhile) {
  DenylistInstance a = fixture_->Open();
  DenyToken(a, 7, "fam.a", Now() + std::chrono::minutes{10});
  DenyFamily(a, 7, "fam1", Now() + std::chrono::minutes{10});
  DenyToken(a, 7, "short.a", Now() + std::chrono::minutes{1});
  fixture_->clock().Advance(std::chrono::minutes{5});
  // Later denials of the same member (which may prune the expired ones) keep the live ones.
  DenyToken(a, 7, "fam.b", Now() + std::chrono::minutes{10});
  DenyFamily(a, 7, "fam2", Now() + std::chrono::minutes{10});
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam.a", Now()));
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam1.x", Now()));
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam.b", Now()));
  EXPECT_TRUE(a.revoked.IsRevoked(7, "fam2.x", Now()));
}

TEST_P(TokenDenylistContract, EveryInstanceOverTheStoreRefusesADeniedToken) {
  DenylistInstance a = fixture_->Open();
  DenylistInstance b = fixture_->Open();
  DenyToken(a, 7, "fam.a", Later());
  DenyFamily(b, 8, "fam1", Later());
  InvalidateBefore(a, 9, Now() + std::chrono::seconds{1});
  const TimePoint now = Now();
  EXPECT_TRUE(rocketmart::testing::WaitUntil(
      [&] {
        return b.revoked.IsRevoked(7, "fam.a", now) && a.revoked.IsRevoked(8, "fam1.x", now) &&
               b.revoked.IsRevoked(9, "x.y", now);
      },
      fixture_->propagation()));
  EXPECT_FALSE(b.revoked.IsRevoked(7, "fam.b", now));
}

// The barrier: once CatchUp returned on an instance, every denial another instance completed
// before is in its answers, with no waiting (a logout recorded by members is enforced by the
// gateway that relays its answer from the client's next request on). Many rounds: without the
// barrier, a read right after another instance's denial loses the race now and then.
TEST_P(TokenDenylistContract, AfterCatchUpEveryEarlierDenialOfAnyInstanceIsInTheAnswers) {
  DenylistInstance a = fixture_->Open();
  DenylistInstance b = fixture_->Open();
  const TimePoint now = Now();
  for (int round = 0; round < 200; ++round) {
    const std::string family = "cu" + std::to_string(round);
    DenyFamily(a, 11, family, Later());
    async::RunToCompletion(b.revoked.CatchUp(fixture_->propagation()));
    ASSERT_TRUE(b.revoked.IsRevoked(11, family + ".x", now)) << "round " << round;
    InvalidateBefore(b, 12 + round, now + std::chrono::seconds{1});
    async::RunToCompletion(a.revoked.CatchUp(fixture_->propagation()));
    ASSERT_TRUE(a.revoked.IsRevoked(12 + round, "y.z", now)) << "round " << round;
  }
}

// Concurrency: writers released together on two instances, readers checking meanwhile. Every
// denial lands (no lost update), the "issued before" instant ends at the latest one given, and a
// reader never sees a denial disappear once it saw it.
TEST_P(TokenDenylistContract, ParallelDenialsFromManyWritersAllLand) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 200;
  DenylistInstance a = fixture_->Open();
  DenylistInstance b = fixture_->Open();
  const TimePoint base = Now();
  const TimePoint until = Later();
  std::barrier start(kWriters + 1);
  std::atomic<bool> writers_done{false};
  std::atomic<int> vanished{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      DenylistInstance& in = w % 2 == 0 ? a : b;
      start.arrive_and_wait();
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        DenyToken(in, 7, "tok-" + id, until);  // no family part: only the token denial covers it
        DenyFamily(in, 7, id, until);
        InvalidateBefore(in, 7, base + std::chrono::seconds{w * kPerWriter + i});
      }
    });
  }
  threads.emplace_back([&] {
    start.arrive_and_wait();
    bool seen = false;
    while (!writers_done.load()) {
      const bool now_revoked = a.revoked.IsRevoked(7, "tok-w0-0", base);
      if (seen && !now_revoked) vanished.fetch_add(1);
      seen = seen || now_revoked;
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  writers_done.store(true);
  threads.back().join();
  EXPECT_EQ(vanished.load(), 0);
  const TimePoint last = base + std::chrono::seconds{kWriters * kPerWriter - 1};
  for (DenylistInstance* in : {&a, &b}) {
    EXPECT_TRUE(rocketmart::testing::WaitUntil(
        [&] {
          for (int w = 0; w < kWriters; ++w) {
            for (int i = 0; i < kPerWriter; ++i) {
              const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
              if (!in->revoked.IsRevoked(7, "tok-" + id, last)) return false;
              if (!in->revoked.IsRevoked(7, id + ".other", last)) return false;
            }
          }
          return true;
        },
        fixture_->propagation()));
    // Issued before the latest instant: void; issued at it: not (the instant is the maximum).
    EXPECT_TRUE(in->revoked.IsRevoked(7, "z.z", last - std::chrono::seconds{1}));
    EXPECT_FALSE(in->revoked.IsRevoked(7, "z.z", last));
  }
}

}  // namespace rocketmart::gateway::contract

// Contract of MemberRepository (services/members/ports/member_repository.hpp), checked only
// through the port (and the mail outbox port for the mails its writes queue).
//
// The promise: each write is one transaction, committed before it completes, with the mail it
// causes; emails are unique case-insensitively (of parallel signups of one email on several
// instances exactly one inserts); single-use tokens are consumed once (a verification link used
// again says "already verified"); a refresh token rotates once (of parallel rotations exactly one
// wins, the others are reuse, which revokes the family and denies its access tokens); revocation
// instants only move forward; recorded mail requests are claimed by one resolver at a time (a
// claim lapses at the end of its lease) and resolved once; reads see every committed write.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "infra/async/run.hpp"
#include "member_store_fixture.hpp"

namespace rocketmart::members::contract {

class MemberRepositoryContract : public ::testing::TestWithParam<MemberStoreFactory> {
 protected:
  using seconds = std::chrono::seconds;
  void SetUp() override {
    fixture_ = GetParam()();
    a_ = std::make_unique<MemberStoreInstance>(fixture_->Open());
  }
  MemberRepository& repo() { return a_->repository; }
  TimePoint Now() { return fixture_->clock().Now(); }

  template <class T>
  static T Run(boost::asio::awaitable<T> task) {
    return async::RunToCompletion(std::move(task));
  }
  // The seal the service would apply, made visible: the stored value names the id it was bound to.
  static MemberRepository::SealFn Seal() {
    return [](std::int64_t id, std::string_view field, std::string_view plain) -> std::string {
      if (plain.empty()) return {};
      return "sealed(" + std::to_string(id) + "," + std::string(field) + "):" + std::string(plain);
    };
  }
  MemberRepository::SignupRequest SignupOf(const std::string& email, const std::string& token) {
    MemberRepository::SignupRequest r;
    r.member.email = email;
    r.member.password_hash = "hash-of-" + email;
    r.member.name = "Name " + email;
    r.phone = "010-1234-5678";
    r.verify_token_hash = token;
    r.verify_expires_at = Now() + std::chrono::hours{24};
    r.new_mail.sealed = "welcome " + email;
    r.taken_mail.sealed = "taken " + email;
    r.now = Now();
    return r;
  }
  std::int64_t SignUp(MemberRepository& repository, const std::string& email,
                      const std::string& token = "") {
    auto id = Run(repository.Signup(SignupOf(email, token.empty() ? "v-" + email : token), Seal()));
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : -1;
  }
  std::optional<MemberRecord> ById(std::int64_t id) {
    auto found = Run(repo().FindById(id));
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::nullopt;
  }
  std::optional<MemberRecord> ByEmail(const std::string& email) {
    auto found = Run(repo().FindByEmail(email));
    EXPECT_TRUE(found.ok());
    return found.ok() ? *found : std::nullopt;
  }
  // Every mail queued so far (claimed and completed: the outbox is left empty).
  std::vector<std::string> DrainMail(MailOutbox& outbox) {
    std::vector<std::string> out;
    for (;;) {
      auto claimed = Run(outbox.Claim(Now(), Now() + seconds{60}, 100));
      EXPECT_TRUE(claimed.ok());
      if (!claimed.ok() || claimed->empty()) return out;
      for (OutboxMail& m : *claimed) {
        out.push_back(m.sealed);
        EXPECT_TRUE(Run(outbox.Complete(std::move(m))).ok());
      }
    }
  }
  std::vector<std::string> DrainMail() { return DrainMail(a_->outbox); }
  DenylistSnapshot Denylist() {
    auto snapshot = Run(repo().LoadDenylist(Now()));
    EXPECT_TRUE(snapshot.ok());
    return snapshot.ok() ? *snapshot : DenylistSnapshot{};
  }
  RefreshOutcome Rotate(MemberRepository& repository, const std::string& from,
                        const std::string& to) {
    auto r = Run(repository.RotateRefresh(from, to, Now() + std::chrono::minutes{15}, Now()));
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RefreshOutcome{};
  }

  // Runs call(i, repository) on n threads released together, alternating between this fixture's
  // first instance and `other`.
  void InParallel(int n, MemberRepository& other,
                  const std::function<void(int, MemberRepository&)>& call) {
    std::barrier start(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        MemberRepository& repository = i % 2 ? repo() : other;
        start.arrive_and_wait();
        call(i, repository);
      });
    }
    for (auto& t : threads) t.join();
  }

  std::unique_ptr<MemberStoreFixture> fixture_;
  std::unique_ptr<MemberStoreInstance> a_;
};

TEST_P(MemberRepositoryContract, ASignupStoresTheMemberItsLinkAndItsMailTogether) {
  const std::int64_t id = SignUp(repo(), "Ann@Example.com", "token-ann");
  ASSERT_GT(id, 0);
  auto member = ById(id);
  ASSERT_TRUE(member);
  EXPECT_EQ(member->email, "Ann@Example.com");
  EXPECT_EQ(member->password_hash, "hash-of-Ann@Example.com");
  EXPECT_EQ(member->role, MemberRole::kUser);
  EXPECT_FALSE(member->email_verified);
  // Personal data is sealed once the id is known, bound to it.
  EXPECT_EQ(member->phone_sealed, "sealed(" + std::to_string(id) + ",phone):010-1234-5678");
  EXPECT_EQ(member->address_sealed, "");
  auto by_email = ByEmail("ann@EXAMPLE.com");  // case-insensitive
  ASSERT_TRUE(by_email);
  EXPECT_EQ(by_email->id, id);
  EXPECT_FALSE(ByEmail("nobody@example.com"));
  EXPECT_FALSE(ById(id + 1000));
  EXPECT_EQ(DrainMail(), std::vector<std::string>{"welcome Ann@Example.com"});
  auto verified = Run(repo().ConsumeVerification("token-ann", Now()));
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->member_id, id);
  EXPECT_TRUE(ById(id)->email_verified);
}

TEST_P(MemberRepositoryContract, ASignupWithATakenEmailQueuesOnlyTheWarning) {
  const std::int64_t id = SignUp(repo(), "bo@example.com");
  DrainMail();
  EXPECT_EQ(SignUp(repo(), "BO@example.com", "other-token"), 0);
  EXPECT_EQ(ByEmail("bo@example.com")->id, id);
  EXPECT_EQ(ById(id)->email, "bo@example.com");
  EXPECT_EQ(DrainMail(), std::vector<std::string>{"taken BO@example.com"});
  // The second signup's link was never stored.
  EXPECT_FALSE(Run(repo().ConsumeVerification("other-token", Now())).ok());
}

TEST_P(MemberRepositoryContract, AVerificationLinkWorksOnceThenSaysAlreadyVerified) {
  SignUp(repo(), "cy@example.com", "token-cy");
  auto first = Run(repo().ConsumeVerification("token-cy", Now()));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->already_verified);
  auto again = Run(repo().ConsumeVerification("token-cy", Now()));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_verified);
  auto unknown = Run(repo().ConsumeVerification("no-such-token", Now()));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kValidationFailed);
  SignUp(repo(), "dee@example.com", "token-dee");
  fixture_->clock().Advance(std::chrono::hours{24});
  auto expired = Run(repo().ConsumeVerification("token-dee", Now()));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Errc::kValidationFailed);
  EXPECT_FALSE(ByEmail("dee@example.com")->email_verified);
}

TEST_P(MemberRepositoryContract, AResolvedRequestSupersedesTheLinkAndQueuesItsMail) {
  const std::int64_t id = SignUp(repo(), "eve@example.com");
  DrainMail();
  for (const char* token : {"reset-1", "reset-2"}) {
    ASSERT_TRUE(
        Run(repo().RecordMailRequest(MailRequestKind::kPasswordReset, "sealed-eve", Now())).ok());
    auto claimed = Run(repo().ClaimMailRequests(10, Now(), Now() + seconds{60}));
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ(claimed->at(0).kind, MailRequestKind::kPasswordReset);
    EXPECT_EQ(claimed->at(0).sealed_address, "sealed-eve");
    TokenIssue issue{id, TokenKind::kResetPassword, token, Now() + std::chrono::minutes{30},
                     QueuedMail{std::string("mail ") + token}};
    ASSERT_TRUE(Run(repo().ResolveMailRequest(claimed->at(0), issue, Now())).ok());
  }
  EXPECT_EQ(DrainMail(), (std::vector<std::string>{"mail reset-1", "mail reset-2"}));
  // The newer link superseded the older one, and works once.
  EXPECT_FALSE(Run(repo().ConsumeReset("reset-1", "new-hash", Now(), Now())).ok());
  auto reset = Run(repo().ConsumeReset("reset-2", "new-hash", Now(), Now()));
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(reset->member_id, id);
  EXPECT_EQ(ById(id)->password_hash, "new-hash");
  EXPECT_TRUE(ById(id)->email_verified);  // whoever read the mail controls the address
  EXPECT_FALSE(Run(repo().ConsumeReset("reset-2", "again", Now(), Now())).ok());
  // A request resolved without a link (unknown address) is gone all the same.
  ASSERT_TRUE(
      Run(repo().RecordMailRequest(MailRequestKind::kVerification, "sealed-x", Now())).ok());
  auto claimed = Run(repo().ClaimMailRequests(10, Now(), Now() + seconds{60}));
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_TRUE(Run(repo().ResolveMailRequest(claimed->at(0), std::nullopt, Now())).ok());
  fixture_->clock().Advance(seconds{61});
  EXPECT_TRUE(Run(repo().ClaimMailRequests(10, Now(), Now() + seconds{60}))->empty());
  EXPECT_TRUE(DrainMail().empty());
}

TEST_P(MemberRepositoryContract, AClaimedRequestIsNobodyElsesUntilItsLeaseEnds) {
  MemberStoreInstance b = fixture_->Open();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Run(repo().RecordMailRequest(MailRequestKind::kVerification, "addr", Now())).ok());
  }
  auto mine = Run(repo().ClaimMailRequests(10, Now(), Now() + seconds{60}));
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 3u);
  EXPECT_TRUE(Run(b.repository.ClaimMailRequests(10, Now(), Now() + seconds{60}))->empty());
  fixture_->clock().Advance(seconds{59});
  EXPECT_TRUE(Run(b.repository.ClaimMailRequests(10, Now(), Now() + seconds{60}))->empty());
  // The first resolver died: once its lease ended the requests are the next one's.
  fixture_->clock().Advance(seconds{1});
  auto theirs = Run(b.repository.ClaimMailRequests(10, Now(), Now() + seconds{60}));
  ASSERT_TRUE(theirs.ok());
  ASSERT_EQ(theirs->size(), 3u);
  // The first resolver's late answer changes nothing; the holder's resolves.
  auto late = Run(repo().ResolveMailRequest(mine->at(0), std::nullopt, Now()));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kConflict);
  EXPECT_TRUE(Run(b.repository.ResolveMailRequest(theirs->at(0), std::nullopt, Now())).ok());
  auto twice = Run(b.repository.ResolveMailRequest(theirs->at(0), std::nullopt, Now()));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::kConflict);
}

// Concurrency: two resolvers on two instances, released together, drain one set of requests.
TEST_P(MemberRepositoryContract, TwoResolversResolveEachRequestOnce) {
  constexpr int kRequests = 40;
  MemberStoreInstance b = fixture_->Open();
  const std::int64_t id = SignUp(repo(), "fay@example.com");
  DrainMail();
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(Run(repo().RecordMailRequest(MailRequestKind::kPasswordReset,
                                             "req-" + std::to_string(i), Now()))
                    .ok());
  }
  std::atomic<int> resolved{0};
  std::barrier start(2);
  auto resolver = [&](MemberRepository& repository) {
    start.arrive_and_wait();
    for (;;) {
      auto claimed = Run(repository.ClaimMailRequests(3, Now(), Now() + seconds{60}));
      ASSERT_TRUE(claimed.ok());
      if (claimed->empty()) return;
      for (const MailRequest& r : *claimed) {
        TokenIssue issue{id, TokenKind::kResetPassword, "t-" + r.sealed_address,
                         Now() + std::chrono::minutes{30}, QueuedMail{"mail " + r.sealed_address}};
        auto st = Run(repository.ResolveMailRequest(r, issue, Now()));
        ASSERT_TRUE(st.ok()) << st.error().message;
        resolved.fetch_add(1);
      }
    }
  };
  std::thread t1(resolver, std::ref(repo()));
  std::thread t2(resolver, std::ref(b.repository));
  t1.join();
  t2.join();
  EXPECT_EQ(resolved.load(), kRequests);
  std::vector<std::string> mails = DrainMail();
  std::sort(mails.begin(), mails.end());
  std::vector<std::string> want;
  for (int i = 0; i < kRequests; ++i) want.push_back("mail req-" + std::to_string(i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(mails, want);  // each request's mail once
}

TEST_P(MemberRepositoryContract, ARefreshTokenRotatesOnceAndItsReuseRevokesTheFamily) {
  const std::int64_t id = SignUp(repo(), "gus@example.com");
  const TimePoint family_end = Now() + std::chrono::hours{24 * 30};
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "fam1", "r0", family_end, Now())).ok());
  RefreshOutcome first = Rotate(repo(), "r0", "r1");
  EXPECT_EQ(first.status, RefreshStatus::kRotated);
  EXPECT_EQ(first.member_id, id);
  EXPECT_EQ(first.family_id, "fam1");
  EXPECT_EQ(first.family_expires_at, family_end);
  EXPECT_EQ(Rotate(repo(), "r1", "r2").status, RefreshStatus::kRotated);
  EXPECT_EQ(Rotate(repo(), "nope", "x").status, RefreshStatus::kUnknown);
  // r0 again: someone holds a copy. The family is revoked, its access tokens denied.
  RefreshOutcome reuse = Rotate(repo(), "r0", "r9");
  EXPECT_EQ(reuse.status, RefreshStatus::kReused);
  EXPECT_EQ(reuse.family_id, "fam1");
  EXPECT_EQ(Rotate(repo(), "r2", "r3").status, RefreshStatus::kReused);  // the live one too
  const DenylistSnapshot denied = Denylist();
  ASSERT_EQ(denied.denied_tokens.size(), 1u);
  EXPECT_EQ(denied.denied_tokens[0].member_id, id);
  EXPECT_EQ(denied.denied_tokens[0].jti, "fam1");
  EXPECT_TRUE(denied.denied_tokens[0].family);
  // A family ends at its absolute expiry.
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "fam2", "s0", Now() + seconds{10}, Now())).ok());
  fixture_->clock().Advance(seconds{10});
  EXPECT_EQ(Rotate(repo(), "s0", "s1").status, RefreshStatus::kExpired);
}

// Concurrency: one refresh token presented by eight callers on two instances at once.
TEST_P(MemberRepositoryContract, ParallelRotationsOfOneTokenHaveExactlyOneWinner) {
  constexpr int kCallers = 8;
  MemberStoreInstance b = fixture_->Open();
  const std::int64_t id = SignUp(repo(), "hal@example.com");
  ASSERT_TRUE(
      Run(repo().StoreRefresh(id, "famh", "h0", Now() + std::chrono::hours{24}, Now())).ok());
  std::vector<RefreshStatus> outcomes(kCallers);
  InParallel(kCallers, b.repository, [&](int i, MemberRepository& repository) {
    outcomes[i] = Rotate(repository, "h0", "h1-" + std::to_string(i)).status;
  });
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RefreshStatus::kRotated), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), RefreshStatus::kReused), kCallers - 1);
}

TEST_P(MemberRepositoryContract, LogoutRevokesTheFamilyOfItsOwnTokenAndRecordsTheDenial) {
  const std::int64_t id = SignUp(repo(), "ida@example.com");
  const std::int64_t other = SignUp(repo(), "ivo@example.com");
  const TimePoint end = Now() + std::chrono::hours{24};
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "fa", "a0", end, Now())).ok());
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "fb", "b0", end, Now())).ok());
  ASSERT_TRUE(Run(repo().StoreRefresh(other, "fo", "o0", end, Now())).ok());
  const AccessDenial session{"fa", true, Now() + std::chrono::minutes{15}};
  ASSERT_TRUE(Run(repo().Logout(id, std::string("a0"), session, Now())).ok());
  // Someone else's refresh token is not the caller's to revoke.
  const AccessDenial single{"jti-x", false, Now() + std::chrono::minutes{15}};
  ASSERT_TRUE(Run(repo().Logout(id, std::string("o0"), single, Now())).ok());
  EXPECT_EQ(Rotate(repo(), "a0", "a1").status, RefreshStatus::kReused);
  EXPECT_EQ(Rotate(repo(), "b0", "b1").status, RefreshStatus::kRotated);
  EXPECT_EQ(Rotate(repo(), "o0", "o1").status, RefreshStatus::kRotated);
  std::set<std::pair<std::string, bool>> denied;
  for (const auto& d : Denylist().denied_tokens) {
    EXPECT_EQ(d.member_id, id);
    denied.emplace(d.jti, d.family);
  }
  // "fa" also came back from the reuse of a0 above: still one denial of that session.
  EXPECT_EQ(denied, (std::set<std::pair<std::string, bool>>{{"fa", true}, {"jti-x", false}}));
  // Denials end with the tokens they cover.
  fixture_->clock().Advance(std::chrono::minutes{16});
  EXPECT_TRUE(Denylist().denied_tokens.empty());
}

TEST_P(MemberRepositoryContract, RevocationInstantsOnlyMoveForwardAndKeepTheCallersSession) {
  const std::int64_t id = SignUp(repo(), "jo@example.com");
  const TimePoint end = Now() + std::chrono::hours{24};
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "keep", "k0", end, Now())).ok());
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "other", "x0", end, Now())).ok());
  const TimePoint t = std::chrono::floor<seconds>(Now()) + seconds{1};
  auto first = Run(repo().RevokeSessions(id, "keep", t, Now()));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, t);
  EXPECT_EQ(Rotate(repo(), "x0", "x1").status, RefreshStatus::kReused);
  EXPECT_EQ(Rotate(repo(), "k0", "k1").status, RefreshStatus::kRotated);
  // The same instant again (a second revocation within the second) moves one second past it.
  auto second = Run(repo().RevokeSessions(id, "", t, Now()));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, t + seconds{1});
  EXPECT_EQ(Rotate(repo(), "k1", "k2").status, RefreshStatus::kReused);
  EXPECT_EQ(ById(id)->tokens_valid_after, t + seconds{1});
  const DenylistSnapshot snapshot = Denylist();
  ASSERT_EQ(snapshot.valid_after.size(), 1u);
  EXPECT_EQ(snapshot.valid_after[0], std::make_pair(id, t + seconds{1}));
}

TEST_P(MemberRepositoryContract, PasswordWritesChangeOnlyWhatTheyName) {
  const std::int64_t id = SignUp(repo(), "kim@example.com");
  const TimePoint end = Now() + std::chrono::hours{24};
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "mine", "m0", end, Now())).ok());
  ASSERT_TRUE(Run(repo().StoreRefresh(id, "theirs", "t0", end, Now())).ok());
  const TimePoint t = std::chrono::floor<seconds>(Now()) + seconds{1};
  auto changed = Run(repo().ChangePassword(id, "hash-2", "mine", t, Now()));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(ById(id)->password_hash, "hash-2");
  EXPECT_EQ(Rotate(repo(), "t0", "t1").status, RefreshStatus::kReused);
  EXPECT_EQ(Rotate(repo(), "m0", "m1").status, RefreshStatus::kRotated);
  auto missing = Run(repo().ChangePassword(id + 1000, "h", "", t, Now()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  // A rehash never overwrites a hash that changed meanwhile.
  ASSERT_TRUE(Run(repo().UpgradeHash(id, "hash-1", "hash-1-strong")).ok());
  EXPECT_EQ(ById(id)->password_hash, "hash-2");
  ASSERT_TRUE(Run(repo().UpgradeHash(id, "hash-2", "hash-2-strong")).ok());
  EXPECT_EQ(ById(id)->password_hash, "hash-2-strong");
}

TEST_P(MemberRepositoryContract, AProfileUpdateChangesTheGivenFieldsOnly) {
  const std::int64_t id = SignUp(repo(), "lu@example.com");
  MemberRepository::ProfileUpdate update;
  update.name = "Lu";
  update.address_sealed = "sealed-address";
  auto stored = Run(repo().UpdateProfile(id, update, Now()));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->name, "Lu");
  EXPECT_EQ(stored->address_sealed, "sealed-address");
  EXPECT_EQ(stored->phone_sealed, ById(id)->phone_sealed);  // unchanged
  MemberRepository::ProfileUpdate clear;
  clear.phone_sealed = "";
  ASSERT_TRUE(Run(repo().UpdateProfile(id, clear, Now())).ok());
  EXPECT_EQ(ById(id)->phone_sealed, "");
  EXPECT_EQ(ById(id)->name, "Lu");
  auto missing = Run(repo().UpdateProfile(id + 1000, update, Now()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

TEST_P(MemberRepositoryContract, MembersAreListedNewestFirstAndFoundByPrefix) {
  std::vector<std::int64_t> ids;
  for (const char* email : {"mo@example.com", "max@example.com", "ned@example.com"}) {
    ids.push_back(SignUp(repo(), email));
  }
  auto all = Run(repo().ListMembers(MemberListQuery{std::nullopt, 0, 10}));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[0].id, ids[2]);
  EXPECT_EQ(all->items[2].id, ids[0]);
  EXPECT_EQ(all->total, 3);
  auto page = Run(repo().ListMembers(MemberListQuery{std::nullopt, ids[2], 1}));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, ids[1]);
  auto prefix = MakeSearchPrefix("M");
  ASSERT_TRUE(prefix.ok());
  auto found = Run(repo().ListMembers(MemberListQuery{*prefix, 0, 10}));
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->items.size(), 2u);
  EXPECT_EQ(found->items[0].id, ids[1]);
  EXPECT_EQ(found->items[1].id, ids[0]);
  EXPECT_FALSE(found->total);
}

TEST_P(MemberRepositoryContract, CreatedMembersAndAdminsKeepEmailsUnique) {
  NewMember buyer{"pat@example.com", "hash-p", "Pat", "", "", MemberRole::kUser, true};
  auto id = Run(repo().CreateMember(buyer, Now()));
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(ById(*id)->email_verified);
  auto again = Run(repo().CreateMember(buyer, Now()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kConflict);
  // Promoting an existing member: verified admin, new password, sessions ended.
  ASSERT_TRUE(Run(repo().StoreRefresh(*id, "fp", "p0", Now() + std::chrono::hours{1}, Now())).ok());
  NewMember admin{"PAT@example.com", "hash-admin", "Admin", "", "", MemberRole::kUser, false};
  auto promoted = Run(repo().CreateAdmin(admin, Now()));
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(*promoted, *id);
  EXPECT_EQ(ById(*id)->role, MemberRole::kAdmin);
  EXPECT_EQ(ById(*id)->password_hash, "hash-admin");
  EXPECT_EQ(Rotate(repo(), "p0", "p1").status, RefreshStatus::kReused);
  auto fresh = Run(repo().CreateAdmin(
      NewMember{"root@example.com", "h", "Root", "", "", MemberRole::kUser, false}, Now()));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(ById(*fresh)->role, MemberRole::kAdmin);
  EXPECT_TRUE(ById(*fresh)->email_verified);
}

// Concurrency: one email signed up by eight callers on two instances at once.
TEST_P(MemberRepositoryContract, ParallelSignupsOfOneEmailInsertOneMember) {
  constexpr int kCallers = 8;
  MemberStoreInstance b = fixture_->Open();
  std::vector<std::int64_t> ids(kCallers, -1);
  InParallel(kCallers, b.repository, [&](int i, MemberRepository& repository) {
    ids[i] = SignUp(repository, i % 3 ? "Quinn@example.com" : "quinn@EXAMPLE.com",
                    "tq-" + std::to_string(i));
  });
  EXPECT_EQ(std::count_if(ids.begin(), ids.end(), [](std::int64_t id) { return id > 0; }), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), kCallers - 1);
  const std::int64_t winner = *std::max_element(ids.begin(), ids.end());
  EXPECT_EQ(ByEmail("quinn@example.com")->id, winner);
  const std::vector<std::string> mails = DrainMail();
  EXPECT_EQ(mails.size(), static_cast<std::size_t>(kCallers));  // one welcome, the rest warnings
  EXPECT_EQ(std::count_if(mails.begin(), mails.end(),
                          [](const std::string& m) { return m.starts_with("welcome"); }),
            1);
}

}  // namespace rocketmart::members::contract

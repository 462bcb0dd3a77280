// Contract of MailOutbox (services/members/ports/mail_outbox.hpp), checked only through the
// ports (the mails are queued by MemberRepository writes, as in production).
//
// The promise: a queued mail is handed to one worker at a time — claimed in the transaction that
// reads it, nobody else's until the claim's lease ends; a completed mail is gone; a rescheduled
// one is due again at its retry time with the attempt counted; a worker that lost its claim (its
// lease ended and another worker took the mail) changes nothing; two workers on two instances
// draining one outbox send each mail once.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "infra/async/run.hpp"
#include "member_store_fixture.hpp"

namespace rocketmart::members::contract {

class MailOutboxContract : public ::testing::TestWithParam<MemberStoreFactory> {
 protected:
  using seconds = std::chrono::seconds;
  void SetUp() override {
    fixture_ = GetParam()();
    a_ = std::make_unique<MemberStoreInstance>(fixture_->Open());
  }
  TimePoint Now() { return fixture_->clock().Now(); }
  template <class T>
  static T Run(boost::asio::awaitable<T> task) {
    return async::RunToCompletion(std::move(task));
  }
  // Queues one mail ("welcome <email>") the way production does: a signup's transaction.
  void QueueMail(const std::string& email) {
    MemberRepository::SignupRequest r;
    r.member.email = email;
    r.member.password_hash = "h";
    r.member.name = "N";
    r.verify_token_hash = "v-" + email;
    r.verify_expires_at = Now() + std::chrono::hours{1};
    r.new_mail.sealed = "welcome " + email;
    r.taken_mail.sealed = "taken " + email;
    r.now = Now();
    auto seal = [](std::int64_t, std::string_view, std::string_view) { return std::string(); };
    auto id = Run(a_->repository.Signup(std::move(r), seal));
    ASSERT_TRUE(id.ok());
    ASSERT_GT(*id, 0);
  }
  std::vector<OutboxMail> Claim(MailOutbox& outbox, std::size_t limit = 10,
                                seconds lease = seconds{60}) {
    auto claimed = Run(outbox.Claim(Now(), Now() + lease, limit));
    EXPECT_TRUE(claimed.ok());
    return claimed.ok() ? std::move(*claimed) : std::vector<OutboxMail>{};
  }

  std::unique_ptr<MemberStoreFixture> fixture_;
  std::unique_ptr<MemberStoreInstance> a_;
};

TEST_P(MailOutboxContract, NothingQueuedNothingClaimed) {
  EXPECT_TRUE(Claim(a_->outbox).empty());
}

TEST_P(MailOutboxContract, AQueuedMailIsClaimedOldestFirstByOneWorkerUntilItsLeaseEnds) {
  MemberStoreInstance b = fixture_->Open();
  QueueMail("a@example.com");
  QueueMail("b@example.com");
  std::vector<OutboxMail> mine = Claim(a_->outbox, 1);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].sealed, "welcome a@example.com");
  EXPECT_EQ(mine[0].attempts, 0);
  std::vector<OutboxMail> theirs = Claim(b.outbox);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0].sealed, "welcome b@example.com");
  EXPECT_TRUE(Claim(b.outbox).empty());
  fixture_->clock().Advance(seconds{59});
  EXPECT_TRUE(Claim(b.outbox).empty());
  // Both senders died: once the leases ended, the mails are the next worker's.
  fixture_->clock().Advance(seconds{1});
  EXPECT_EQ(Claim(b.outbox).size(), 2u);
}

TEST_P(MailOutboxContract, ACompletedMailIsGone) {
  QueueMail("a@example.com");
  std::vector<OutboxMail> mine = Claim(a_->outbox);
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_TRUE(Run(a_->outbox.Complete(mine[0])).ok());
  fixture_->clock().Advance(std::chrono::hours{1});
  EXPECT_TRUE(Claim(a_->outbox).empty());
}

TEST_P(MailOutboxContract, ARescheduledMailIsDueAgainAtItsRetryWithTheAttemptCounted) {
  QueueMail("a@example.com");
  std::vector<OutboxMail> mine = Claim(a_->outbox);
  ASSERT_EQ(mine.size(), 1u);
  ASSERT_TRUE(Run(a_->outbox.Reschedule(mine[0], Now() + seconds{5}, "smtp down")).ok());
  EXPECT_TRUE(Claim(a_->outbox).empty());
  fixture_->clock().Advance(seconds{5});
  std::vector<OutboxMail> again = Claim(a_->outbox);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, mine[0].id);
  EXPECT_EQ(again[0].attempts, 1);
  EXPECT_EQ(again[0].sealed, "welcome a@example.com");
}

TEST_P(MailOutboxContract, AWorkerThatLostItsClaimChangesNothing) {
  MemberStoreInstance b = fixture_->Open();
  QueueMail("a@example.com");
  std::vector<OutboxMail> mine = Claim(a_->outbox);
  ASSERT_EQ(mine.size(), 1u);
  fixture_->clock().Advance(seconds{60});
  std::vector<OutboxMail> theirs = Claim(b.outbox);
  ASSERT_EQ(theirs.size(), 1u);
  // The first worker's late failure does not make the mail due again under the new holder.
  auto late = Run(a_->outbox.Reschedule(mine[0], Now(), "late"));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kConflict);
  EXPECT_TRUE(Claim(a_->outbox).empty());
  ASSERT_TRUE(Run(b.outbox.Complete(theirs[0])).ok());
  fixture_->clock().Advance(seconds{60});
  EXPECT_TRUE(Claim(a_->outbox).empty());
}

// Concurrency: two workers on two instances, released together, drain one outbox.
TEST_P(MailOutboxContract, TwoWorkersSendEachMailOnce) {
  constexpr int kMails = 60;
  MemberStoreInstance b = fixture_->Open();
  for (int i = 0; i < kMails; ++i) QueueMail(std::to_string(i) + "m@example.com");
  std::mutex mu;
  std::vector<std::string> sent;
  std::barrier start(2);
  auto worker = [&](MailOutbox& outbox) {
    start.arrive_and_wait();
    for (;;) {
      std::vector<OutboxMail> batch = Claim(outbox, 4);
      if (batch.empty()) return;
      for (OutboxMail& m : batch) {
        {
          std::lock_guard lock(mu);
          sent.push_back(m.sealed);
        }
        ASSERT_TRUE(Run(outbox.Complete(std::move(m))).ok());
      }
    }
  };
  std::thread t1(worker, std::ref(a_->outbox));
  std::thread t2(worker, std::ref(b.outbox));
  t1.join();
  t2.join();
  std::sort(sent.begin(), sent.end());
  std::vector<std::string> want;
  for (int i = 0; i < kMails; ++i) want.push_back("welcome " + std::to_string(i) + "m@example.com");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(sent, want);
}

}  // namespace rocketmart::members::contract

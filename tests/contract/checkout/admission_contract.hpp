// Contract of Admission (services/checkout/ports/admission.hpp), checked only through the port.
//
// The promise: admitting a purchase is one atomic check-and-decrement for all its lines — within
// the member's limit, then within the stock — so parallel callers are never admitted past the
// stock nor past a member's limit; a refusal changes nothing; a withdrawal or a return gives the
// units back; a member's key is used from the admission that records it until it is released or
// forgotten, and a second admission with it admits nothing; a rebuild replaces the counters with
// the database's only when no purchase or return was in flight since it began.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <barrier>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "contract/checkout/contract_support.hpp"
#include "services/checkout/ports/admission.hpp"
#include "services/checkout/ports/idempotency_gate.hpp"
#include "support/wait.hpp"

namespace rocketmart::checkout::contract {

class AdmissionFixture {
 public:
  virtual ~AdmissionFixture() = default;
  // An instance over the fixture's storage: the first call the first, each further call another
  // over the same counters, as a second checkout instance would see them.
  virtual Admission& Open() = 0;
  // Returns once what any instance sent without waiting (the port's notifications) took effect
  // and every instance's Available() shows the counters as they are: a shared adapter sends
  // notifications in the background and caches what it last saw. Nothing to wait for in memory.
  virtual void Sync() {}
  // The idempotency gate a checkout instance pairs with the first instance's admission (same
  // storage: memory, or the same Redis client).
  virtual IdempotencyGate& Gate() = 0;
};

using AdmissionFactory = std::unique_ptr<AdmissionFixture> (*)();

class AdmissionContract : public ::testing::TestWithParam<AdmissionFactory> {
 protected:
  static constexpr std::int64_t kProduct = 1;
  void SetUp() override {
    fixture_ = GetParam()();
    a_ = &fixture_->Open();
  }
  // Puts `units` on sale (the product's first stock, as a return of member 0).
  void Stock(Admission& admission, std::int64_t units, std::int64_t product = kProduct) {
    admission.BeginReturn();
    const std::array<AdmissionLine, 1> line{AdmissionLine{&admission.Counter(product), units, 0}};
    admission.Return(0, line);
    admission.EndReturn();
    fixture_->Sync();
  }
  static std::array<AdmissionLine, 1> Line(Admission& admission, std::int64_t quantity,
                                           std::int64_t limit, std::int64_t product = kProduct) {
    return {AdmissionLine{&admission.Counter(product), quantity, limit}};
  }

  std::unique_ptr<AdmissionFixture> fixture_;
  Admission* a_ = nullptr;
};

// What a sold-out answer from memory asks before it skips the gate: a key matters while a request
// holds it in the gate, and while it may have a record (from the admission that recorded it until
// it is released), for its member only.
TEST_P(AdmissionContract, AKeyMattersWhileHeldInTheGateOrRecorded) {
  Stock(*a_, 5);
  IdempotencyGate& gate = fixture_->Gate();
  EXPECT_FALSE(Await(a_->KeyHeldOrUsed(7, "k1", gate))) << "a fresh key";
  const IdempotencyGate::Ticket ticket = Await(gate.Enter(7, "k1", "hash"));
  EXPECT_TRUE(Await(a_->KeyHeldOrUsed(7, "k1", gate))) << "held by a request in flight";
  EXPECT_FALSE(Await(a_->KeyHeldOrUsed(8, "k1", gate))) << "another member's key is another key";
  const auto line = Line(*a_, 1, 5);
  ASSERT_TRUE(Await(a_->Admit(7, line, "k1")).status.ok());
  gate.Leave(7, "k1", ticket);
  ASSERT_TRUE(rocketmart::testing::WaitUntil([&] { return !Await(gate.Held(7, "k1")); }));
  EXPECT_TRUE(Await(a_->KeyHeldOrUsed(7, "k1", gate))) << "recorded: it may have a record";
  a_->Withdraw(7, line, "k1");  // the request left no record: its key is released
  fixture_->Sync();
  EXPECT_FALSE(Await(a_->KeyHeldOrUsed(7, "k1", gate)));
}

TEST_P(AdmissionContract, NeverAdmitsMoreThanTheStockUnderParallelCalls) {
  Stock(*a_, 30);
  Admission* instances[] = {a_, &fixture_->Open()};
  std::atomic<int> admitted{0}, sold_out{0};
  Together(8, [&](int t) {
    for (int i = 0; i < 25; ++i) {  // 200 purchases for 30 units
      Admission& on = *instances[t % 2];
      const auto line = Line(on, 1, 5);
      const AdmitAnswer answer = Await(on.Admit(1000 + t * 25 + i, line, ""));
      if (answer.status.ok()) {
        ++admitted;
        on.Settle(line);
      } else if (answer.status.error().code == Errc::kSoldOut) {
        ++sold_out;
      }
    }
  });
  fixture_->Sync();
  EXPECT_EQ(admitted.load(), 30);
  EXPECT_EQ(sold_out.load(), 170);
  EXPECT_EQ(a_->Counter(kProduct).Available(), 0);
}

TEST_P(AdmissionContract, NeverAdmitsAMemberPastTheLimitUnderParallelCalls) {
  Stock(*a_, 100);
  Admission* instances[] = {a_, &fixture_->Open()};
  std::atomic<int> admitted{0}, limited{0};
  Together(12, [&](int t) {
    Admission& on = *instances[t % 2];
    const auto line = Line(on, 1, 3);
    const AdmitAnswer answer = Await(on.Admit(7, line, ""));
    if (answer.status.ok()) ++admitted;
    if (!answer.status.ok() && answer.status.error().code == Errc::kPurchaseLimitReached) {
      ++limited;
    }
  });
  fixture_->Sync();
  EXPECT_EQ(admitted.load(), 3);
  EXPECT_EQ(limited.load(), 9);
  EXPECT_EQ(a_->Counter(kProduct).Available(), 97);
}

TEST_P(AdmissionContract, AllLinesOrNoneAndARefusalChangesNothing) {
  Stock(*a_, 5, 1);
  Stock(*a_, 1, 2);
  const std::array<AdmissionLine, 2> lines{AdmissionLine{&a_->Counter(1), 2, 10},
                                           AdmissionLine{&a_->Counter(2), 2, 10}};
  const AdmitAnswer refused = Await(a_->Admit(7, lines, "k"));
  EXPECT_FALSE(refused.status.ok());
  EXPECT_EQ(a_->Counter(1).Available(), 5);
  EXPECT_EQ(a_->Counter(2).Available(), 1);
  EXPECT_FALSE(Await(a_->KeyUsed(7, "k"))) << "a refused purchase records no key";
}

TEST_P(AdmissionContract, AWithdrawalGivesUnitsAndKeyBack) {
  Stock(*a_, 1);
  const auto line = Line(*a_, 1, 1);
  ASSERT_TRUE(Await(a_->Admit(7, line, "k")).status.ok());
  EXPECT_TRUE(Await(a_->KeyUsed(7, "k")));
  EXPECT_EQ(a_->Counter(kProduct).Available(), 0);
  a_->Withdraw(7, line, "k");
  fixture_->Sync();
  EXPECT_EQ(a_->Counter(kProduct).Available(), 1);
  EXPECT_FALSE(Await(a_->KeyUsed(7, "k")));
  EXPECT_TRUE(Await(a_->Admit(7, line, "")).status.ok()) << "the member's unit came back too";
}

TEST_P(AdmissionContract, SoldOutIsAnsweredBeforeTheMembersLimit) {
  Stock(*a_, 1);
  ASSERT_TRUE(Await(a_->Admit(7, Line(*a_, 1, 1), "")).status.ok());
  a_->Settle(Line(*a_, 1, 1));
  EXPECT_EQ(Await(a_->Admit(7, Line(*a_, 1, 1), "")).status.error().code, Errc::kSoldOut)
      << "nothing is left for anyone: that comes before this member's limit";
  Stock(*a_, 1);
  EXPECT_EQ(Await(a_->Admit(7, Line(*a_, 1, 1), "")).status.error().code,
            Errc::kPurchaseLimitReached);
}

TEST_P(AdmissionContract, UnitsGivenBackAfterASoldOutAnswerAreAdmittedOnEveryInstance) {
  Stock(*a_, 1);
  Admission& b = fixture_->Open();
  const auto line = Line(*a_, 1, 1);
  ASSERT_TRUE(Await(a_->Admit(7, line, "")).status.ok());
  a_->Settle(line);
  ASSERT_EQ(Await(a_->Admit(8, Line(*a_, 1, 1), "")).status.error().code, Errc::kSoldOut);
  ASSERT_EQ(Await(b.Admit(8, Line(b, 1, 1), "")).status.error().code, Errc::kSoldOut);
  // This instance gives the unit back: admitted here, and on the other once it saw the counters.
  a_->BeginReturn();
  a_->Return(7, line);
  a_->EndReturn();
  fixture_->Sync();
  EXPECT_TRUE(Await(b.Admit(8, Line(b, 1, 1), "")).status.ok());
  b.Settle(Line(b, 1, 1));
  ASSERT_EQ(Await(a_->Admit(9, Line(*a_, 1, 1), "")).status.error().code, Errc::kSoldOut);
  // The other instance gives it back: admitted here too.
  b.BeginReturn();
  b.Return(8, Line(b, 1, 1));
  b.EndReturn();
  fixture_->Sync();
  EXPECT_TRUE(Await(a_->Admit(9, Line(*a_, 1, 1), "")).status.ok());
}

TEST_P(AdmissionContract, AUsedKeyAdmitsNothingAgainOnAnyInstance) {
  Stock(*a_, 10);
  Admission& b = fixture_->Open();
  ASSERT_TRUE(Await(a_->Admit(7, Line(*a_, 1, 5), "k")).status.ok());
  const AdmitAnswer again = Await(b.Admit(7, Line(b, 1, 5), "k"));
  EXPECT_TRUE(again.key_used);
  EXPECT_EQ(a_->Counter(kProduct).Available(), 9) << "nothing admitted for the retry";
  EXPECT_FALSE(Await(b.ClaimKey(7, "k")));
  EXPECT_TRUE(Await(b.ClaimKey(8, "k"))) << "keys are per member";
  const std::array<IdempotencyKeyRef, 1> forgotten{IdempotencyKeyRef{7, "k"}};
  b.ForgetKeys(forgotten);
  fixture_->Sync();
  EXPECT_FALSE(Await(a_->KeyUsed(7, "k")));
  a_->KeepKey(7, "k");
  fixture_->Sync();
  EXPECT_TRUE(Await(b.KeyUsed(7, "k")));
}

TEST_P(AdmissionContract, OneOfNParallelAdmissionsWithOneKeyIsAdmitted) {
  Stock(*a_, 50);
  Admission* instances[] = {a_, &fixture_->Open()};
  std::atomic<int> admitted{0}, key_used{0};
  Together(10, [&](int t) {
    Admission& on = *instances[t % 2];
    const AdmitAnswer answer = Await(on.Admit(7, Line(on, 1, 10), "k"));
    if (answer.status.ok() && !answer.key_used) ++admitted;
    if (answer.key_used) ++key_used;
  });
  fixture_->Sync();
  EXPECT_EQ(admitted.load(), 1);
  EXPECT_EQ(key_used.load(), 9);
  EXPECT_EQ(a_->Counter(kProduct).Available(), 49);
}

TEST_P(AdmissionContract, ARebuildReplacesTheCountersOnlyWhenNothingMoved) {
  Stock(*a_, 10);
  const auto line = Line(*a_, 2, 5);
  ASSERT_TRUE(Await(a_->Admit(7, line, "")).status.ok());
  // A purchase in flight (admitted, not settled): no rebuild now.
  EXPECT_FALSE(Await(a_->BeginRebuild(a_->Counter(kProduct))).has_value());
  a_->Settle(line);
  fixture_->Sync();
  auto token = Await(a_->BeginRebuild(a_->Counter(kProduct)));
  ASSERT_TRUE(token.has_value());
  StockSnapshot snapshot{kProduct, 6, {{7, 2}, {8, 2}}};
  // Something moved after the token: the snapshot may miss it, so it is not applied.
  ASSERT_TRUE(Await(a_->Admit(9, Line(*a_, 1, 5), "")).status.ok());
  a_->Settle(Line(*a_, 1, 5));
  fixture_->Sync();
  EXPECT_FALSE(Await(a_->FinishRebuild(a_->Counter(kProduct), *token, snapshot)));
  EXPECT_EQ(a_->Counter(kProduct).Available(), 7);
  token = Await(a_->BeginRebuild(a_->Counter(kProduct)));
  ASSERT_TRUE(token.has_value());
  snapshot = StockSnapshot{kProduct, 4, {{7, 2}, {8, 3}, {9, 1}}};
  EXPECT_TRUE(Await(fixture_->Open().FinishRebuild(a_->Counter(kProduct), *token, snapshot)));
  EXPECT_EQ(a_->Counter(kProduct).Available(), 4);
  EXPECT_EQ(Await(a_->Admit(8, Line(*a_, 3, 5), "")).status.error().code,
            Errc::kPurchaseLimitReached)
      << "the member's units came from the snapshot";
}

}  // namespace rocketmart::checkout::contract

// Contract of PaymentProvider (services/checkout/ports/payment_provider.hpp), checked only through
// the port.
//
// The promise: every call is idempotent by hold id — a charge repeated (in sequence, in parallel,
// or from a second client of the same provider) answers the first outcome and reference; Lookup
// tells what was recorded for a hold (nothing before its charge); a refund of a captured charge is
// answered the same when repeated; a refund of a hold never charged is kNotFound, of a declined
// charge kConflict; Void closes a hold: before any charge it records that none will be (a later
// charge, from any client, answers kDeclined and captures nothing), after a charge it answers that
// charge and changes nothing, and a void and a charge racing each other leave exactly one of the
// two.
#pragma once

#include <gtest/gtest.h>

#include <barrier>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "contract/checkout/contract_support.hpp"
#include "services/checkout/ports/payment_provider.hpp"

namespace rocketmart::checkout::contract {

class PaymentProviderFixture {
 public:
  virtual ~PaymentProviderFixture() = default;
  // A client of the provider: the first call the first, each further call another client of the
  // same provider (as a second checkout instance). `declines`: every charge it makes is declined.
  virtual PaymentProvider& Open(bool declines = false) = 0;
};

using PaymentProviderFactory = std::unique_ptr<PaymentProviderFixture> (*)();

class PaymentProviderContract : public ::testing::TestWithParam<PaymentProviderFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam()(); }
  std::unique_ptr<PaymentProviderFixture> fixture_;
};

TEST_P(PaymentProviderContract, AChargeRepeatedInParallelOnTwoClientsAnswersOneOutcome) {
  PaymentProvider* clients[] = {&fixture_->Open(), &fixture_->Open()};
  constexpr int kThreads = 8;
  std::barrier start(kThreads);
  std::mutex mu;
  std::set<std::string> references;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = Await(clients[i % 2]->Charge(42, 7, 1000));
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->outcome, ChargeOutcome::kCaptured);
      std::lock_guard lock(mu);
      references.insert(r->reference);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(references.size(), 1u) << "one charge for one hold";
  auto looked = Ok(Await(clients[1]->Lookup(42)));
  ASSERT_TRUE(looked.has_value());
  EXPECT_EQ(looked->reference, *references.begin());
}

TEST_P(PaymentProviderContract, LookupKnowsNothingOfAHoldNeverCharged) {
  EXPECT_FALSE(Ok(Await(fixture_->Open().Lookup(99))).has_value());
}

TEST_P(PaymentProviderContract, AVoidedHoldIsNeverChargedAndAChargedOneStaysCharged) {
  PaymentProvider& a = fixture_->Open();
  PaymentProvider& b = fixture_->Open();
  EXPECT_FALSE(Ok(Await(a.Void(61))).has_value()) << "never charged: void";
  EXPECT_FALSE(Ok(Await(b.Void(61))).has_value()) << "voided again: still void";
  auto late = Ok(Await(b.Charge(61, 7, 1000)));
  EXPECT_EQ(late.outcome, ChargeOutcome::kDeclined) << "a charge after the void takes nothing";
  auto after = Ok(Await(a.Lookup(61)));
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(after->outcome, ChargeOutcome::kCaptured);
  EXPECT_EQ(Await(a.Refund(61)).error().code, Errc::kConflict) << "nothing to refund";

  auto charged = Ok(Await(a.Charge(62, 7, 1000)));
  ASSERT_EQ(charged.outcome, ChargeOutcome::kCaptured);
  auto voided = Ok(Await(b.Void(62)));
  ASSERT_TRUE(voided.has_value()) << "the charge came first: the void answers it";
  EXPECT_EQ(voided->outcome, ChargeOutcome::kCaptured);
  EXPECT_EQ(voided->reference, charged.reference);
  EXPECT_EQ(Ok(Await(b.Lookup(62)))->outcome, ChargeOutcome::kCaptured);
}

// A void and a charge of the same hold released together on two clients: either the charge
// captured and the void answers it, or the void won and the charge was declined.
TEST_P(PaymentProviderContract, AVoidRacingAChargeLeavesExactlyOneOfThem) {
  PaymentProvider& a = fixture_->Open();
  PaymentProvider& b = fixture_->Open();
  for (std::int64_t hold = 1000; hold < 1040; ++hold) {
    std::barrier start(2);
    Result<ChargeRecord> charge = MakeError(Errc::kInternal, "not run");
    Result<std::optional<ChargeRecord>> voided = MakeError(Errc::kInternal, "not run");
    std::thread charger([&] {
      start.arrive_and_wait();
      charge = Await(a.Charge(hold, 7, 1000));
    });
    std::thread voider([&] {
      start.arrive_and_wait();
      voided = Await(b.Void(hold));
    });
    charger.join();
    voider.join();
    ASSERT_TRUE(charge.ok() && voided.ok()) << hold;
    if (charge->outcome == ChargeOutcome::kCaptured) {
      ASSERT_TRUE(voided->has_value()) << "captured, yet the void says never charged: " << hold;
      EXPECT_EQ((*voided)->reference, charge->reference);
    } else {
      EXPECT_FALSE(voided->has_value()) << hold;
    }
  }
}

TEST_P(PaymentProviderContract, ARefundRepeatedAnswersTheSameAndLookupSeesIt) {
  PaymentProvider& a = fixture_->Open();
  PaymentProvider& b = fixture_->Open();
  const ChargeRecord charge = Ok(Await(a.Charge(5, 7, 1000)));
  ASSERT_EQ(charge.outcome, ChargeOutcome::kCaptured);
  const ChargeRecord refund = Ok(Await(a.Refund(5)));
  EXPECT_EQ(refund.outcome, ChargeOutcome::kRefunded);
  const ChargeRecord again = Ok(Await(b.Refund(5)));
  EXPECT_EQ(again.outcome, ChargeOutcome::kRefunded);
  EXPECT_EQ(again.reference, refund.reference);
  auto looked = Ok(Await(b.Lookup(5)));
  ASSERT_TRUE(looked.has_value());
  EXPECT_EQ(looked->outcome, ChargeOutcome::kRefunded);
  EXPECT_EQ(Ok(Await(a.Charge(5, 7, 1000))).reference, charge.reference)
      << "charging a refunded hold again charges nothing new";
}

TEST_P(PaymentProviderContract, RefusesToRefundWhatItNeverCapturedAndChangesNothing) {
  PaymentProvider& declining = fixture_->Open(true);
  auto never = Await(declining.Refund(77));
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error().code, Errc::kNotFound);
  EXPECT_FALSE(Ok(Await(declining.Lookup(77))).has_value());
  const ChargeRecord declined = Ok(Await(declining.Charge(78, 7, 1000)));
  ASSERT_EQ(declined.outcome, ChargeOutcome::kDeclined);
  auto refund = Await(declining.Refund(78));
  ASSERT_FALSE(refund.ok());
  EXPECT_EQ(refund.error().code, Errc::kConflict);
  EXPECT_EQ(Ok(Await(declining.Lookup(78)))->outcome, ChargeOutcome::kDeclined);
}

}  // namespace rocketmart::checkout::contract

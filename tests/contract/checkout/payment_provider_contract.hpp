// Contract of PaymentProvider (services/checkout/ports/payment_provider.hpp), checked only through
// the port.
//
// The promise: every call is idempotent by hold id — a charge repeated (in sequence, in parallel,
// or from a second client of the same provider) answers the first outcome and reference; Lookup
// tells what was recorded for a hold (nothing before its charge); a refund of a captured charge is
// answered the same when repeated; a refund of a hold never charged is kNotFound, of a declined
// charge kConflict.
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

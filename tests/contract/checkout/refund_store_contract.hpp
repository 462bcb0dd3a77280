// Contract of RefundStore (services/checkout/ports/refund_store.hpp), checked only through the
// checkout store ports.
//
// The promise: a captured payment is refunded once, whatever the redelivery (the same event again,
// on another instance, or another event for the same payment), and its units come back to sale
// once; its provider refund stays pending until settled, leased to the worker that asks the
// provider, so two workers never claim the same pending refund; a released lease may be claimed
// at once; a refund is settled once.
#pragma once

#include <atomic>
#include <mutex>
#include <set>

#include "contract/checkout/checkout_stores_fixture.hpp"

namespace rocketmart::checkout::contract {

class RefundStoreContract : public CheckoutStoresTest {
 protected:
  static constexpr const char* kConsumer = "checkout.order_refunds";
  std::optional<RefundedPayment> Refund(CheckoutStores& on, std::int64_t payment_id,
                                        const std::string& event_id,
                                        TimePoint lease_until = TimePoint{}) {
    return Ok(Await(
        on.refunds.RefundPayment(payment_id, kConsumer, event_id, "worker-a", lease_until, Now())));
  }
};

TEST_P(RefundStoreContract, ARefundReturnsThePaymentsUnitsToSale) {
  Product(10);
  const PaidOrder order = PaidHold(7, 3);
  EXPECT_EQ(Available(), 7);
  auto refunded = Refund(A(), order.payment_id, "orders:1");
  ASSERT_TRUE(refunded.has_value());
  EXPECT_EQ(refunded->payment_id, order.payment_id);
  EXPECT_EQ(refunded->hold_id, order.hold_id);
  EXPECT_EQ(refunded->member_id, 7);
  EXPECT_EQ(refunded->amount, 3 * kPrice);
  EXPECT_EQ(Available(), 10);
  EXPECT_EQ(Ok(Await(A().stock.Snapshot(kProduct))).member_units.count(7), 0u);
  ExpectInvariants();
}

TEST_P(RefundStoreContract, ARefundIsAppliedOnceUnderParallelRedeliveryOnTwoInstances) {
  Product(10);
  const PaidOrder order = PaidHold(7, 2);
  CheckoutStores* instances[] = {&A(), &Second()};
  std::atomic<int> applied{0};
  // The same event four times and three other events for the same payment, on two instances.
  Together(8, [&](int i) {
    const std::string event = i < 4 ? "orders:cancel" : "orders:other-" + std::to_string(i);
    if (Refund(*instances[i % 2], order.payment_id, event)) ++applied;
  });
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(Available(), 10);
  EXPECT_FALSE(Refund(A(), order.payment_id, "orders:cancel").has_value());
  ExpectInvariants();
}

TEST_P(RefundStoreContract, AnUnknownPaymentIsNotRefunded) {
  Product(1);
  EXPECT_FALSE(Refund(A(), 424242, "orders:x").has_value());
  EXPECT_EQ(Available(), 1);
}

TEST_P(RefundStoreContract, TwoWorkersClaimEachPendingRefundOnce) {
  constexpr int kPayments = 30;
  Product(kPayments);
  std::set<std::int64_t> pending;
  for (int i = 0; i < kPayments; ++i) {
    const PaidOrder order = PaidHold(100 + i);
    // The worker that refunded it never reached the provider: its lease ran out at once.
    ASSERT_TRUE(Refund(A(), order.payment_id, "orders:" + std::to_string(i), Now()).has_value());
    pending.insert(order.payment_id);
  }
  clock_.Advance(std::chrono::seconds(1));
  CheckoutStores* workers[] = {&A(), &Second()};
  std::mutex mu;
  std::multiset<std::int64_t> claimed;
  const TimePoint lease = Now() + std::chrono::minutes(1);
  Together(2, [&](int w) {
    const std::string worker = w == 0 ? "worker-a" : "worker-b";
    while (true) {
      auto r = Await(workers[w]->refunds.ClaimPendingRefunds(worker, Now(), lease, 4));
      if (!r.ok() || r->empty()) break;
      std::lock_guard lock(mu);
      for (const RefundedPayment& p : *r) claimed.insert(p.payment_id);
    }
  });
  EXPECT_EQ(claimed.size(), pending.size()) << "no refund claimed twice";
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()), pending);
  EXPECT_TRUE(Ok(Await(A().refunds.ClaimPendingRefunds("worker-c", Now(), lease, 100))).empty())
      << "a running lease is not taken";
}

TEST_P(RefundStoreContract, AReleasedLeaseIsClaimedAtOnceAndASettledRefundNever) {
  Product(2);
  const PaidOrder order = PaidHold(7);
  const TimePoint lease = Now() + std::chrono::minutes(1);
  ASSERT_TRUE(Refund(A(), order.payment_id, "orders:1", lease).has_value());
  EXPECT_TRUE(Ok(Await(A().refunds.ClaimPendingRefunds("worker-b", Now(), lease, 10))).empty());
  ASSERT_TRUE(Await(A().refunds.ReleaseRefund(order.payment_id, "worker-a")).ok());
  auto claimed = Ok(Await(Second().refunds.ClaimPendingRefunds("worker-b", Now(), lease, 10)));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].payment_id, order.payment_id);
  EXPECT_TRUE(Ok(Await(Second().refunds.SettleRefund(order.payment_id, Now()))));
  EXPECT_FALSE(Ok(Await(A().refunds.SettleRefund(order.payment_id, Now())))) << "settled once";
  clock_.Advance(std::chrono::minutes(5));
  EXPECT_TRUE(Ok(Await(A().refunds.ClaimPendingRefunds("worker-c", Now(), Now(), 10))).empty());
}

}  // namespace rocketmart::checkout::contract

// Contract of HoldStore (services/checkout/ports/hold_store.hpp), checked only through the
// checkout store ports.
//
// The promise: placing a hold is one transaction that takes the stock with a guard (never below
// zero) and the member's units with the sale's limit, or changes nothing and says why; every
// transition is guarded by the status it expects, so a payment, a cancel and an expiry racing on
// any number of instances resolve a hold exactly once; completing a payment again answers the same
// order; two sweepers expire each due hold once; payments in flight are leased, and two resolvers
// claim each stale payment once, never one whose lease is still running.
#pragma once

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>

#include "contract/checkout/checkout_stores_fixture.hpp"

namespace rocketmart::checkout::contract {

class HoldStoreContract : public CheckoutStoresTest {};

TEST_P(HoldStoreContract, APlacedHoldTakesItsStockAndReadsBackActive) {
  Product(10);
  const Hold hold = Place(Request(7, 3));
  EXPECT_GT(hold.id, 0);
  EXPECT_EQ(hold.total, 3 * kPrice);
  EXPECT_EQ(StatusOf(hold.id), HoldStatus::kActive);
  const StockSnapshot snapshot = Ok(Await(A().stock.Snapshot(kProduct)));
  EXPECT_EQ(snapshot.available, 7);
  EXPECT_EQ(snapshot.member_units.at(7), 3);
  const OpenHoldsPage open = Ok(Await(A().holds.OpenHolds(7, Now(), 0, 10)));
  ASSERT_EQ(open.items.size(), 1u);
  EXPECT_EQ(open.items[0].id, hold.id);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, ARefusedHoldChangesNothing) {
  Product(2);
  auto too_many = Await(A().holds.PlaceHold(Request(7, 3)));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, Errc::kSoldOut);
  auto over_limit = Await(A().holds.PlaceHold(Request(7, 2, 1)));
  ASSERT_FALSE(over_limit.ok());
  EXPECT_EQ(over_limit.error().code, Errc::kPurchaseLimitReached);
  const StockSnapshot snapshot = Ok(Await(A().stock.Snapshot(kProduct)));
  EXPECT_EQ(snapshot.available, 2);
  EXPECT_TRUE(snapshot.member_units.empty());
  EXPECT_EQ(Ok(Await(A().holds.OpenHolds(7, Now(), 0, 10))).total, 0);
  ExpectInvariants();
}

// A hold over two products refused at its second line (sold out, then the member's limit) gives
// back what its first line took: stock, units and its key are as before.
TEST_P(HoldStoreContract, AHoldRefusedAtItsSecondLineChangesNothing) {
  constexpr std::int64_t kOther = kProduct + 1;
  Product(5);
  Product(1, kOther);
  Place(Request(7, 1, 2, kOther));  // member 7 has 1 of kOther (limit 2); kOther is sold out
  auto two_lines = [&](std::int64_t other_quantity, std::string key) {
    HoldRequest r = Request(7, 2, 10);
    r.lines.push_back({kOther, other_quantity, kPrice});
    r.per_member_limits[kOther] = 2;
    r.idempotency = IdempotencyTag{std::move(key), "hash", "hold"};
    return r;
  };
  auto sold_out = Await(A().holds.PlaceHold(two_lines(1, "k-sold-out")));
  ASSERT_FALSE(sold_out.ok());
  EXPECT_EQ(sold_out.error().code, Errc::kSoldOut);
  Ok(Await(A().stock.Restock(kOther, 5, Now())));
  auto over_limit = Await(A().holds.PlaceHold(two_lines(2, "k-limit")));
  ASSERT_FALSE(over_limit.ok());
  EXPECT_EQ(over_limit.error().code, Errc::kPurchaseLimitReached);
  const StockSnapshot first = Ok(Await(A().stock.Snapshot(kProduct)));
  EXPECT_EQ(first.available, 5);
  EXPECT_TRUE(first.member_units.empty());
  const StockSnapshot other = Ok(Await(A().stock.Snapshot(kOther)));
  EXPECT_EQ(other.available, 5);
  EXPECT_EQ(other.member_units.at(7), 1);
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(7, "k-sold-out"))).has_value());
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(7, "k-limit"))).has_value());
  auto fits = Await(A().holds.PlaceHold(two_lines(1, "k-limit")));
  ASSERT_TRUE(fits.ok()) << fits.error().message;
  EXPECT_EQ(Ok(Await(A().stock.Snapshot(kOther))).member_units.at(7), 2);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, GuardedStockNeverGoesNegativeUnderParallelHoldsOnTwoInstances) {
  constexpr int kStock = 25;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;  // 160 requests for 25 units
  Product(kStock);
  CheckoutStores* instances[] = {&A(), &Second()};
  std::atomic<int> placed{0}, sold_out{0}, other{0};
  Together(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto r = Await(instances[t % 2]->holds.PlaceHold(Request(1000 + t * kPerThread + i)));
      if (r.ok()) {
        ++placed;
      } else if (r.error().code == Errc::kSoldOut) {
        ++sold_out;
      } else {
        ++other;
      }
    }
  });
  EXPECT_EQ(placed.load(), kStock);
  EXPECT_EQ(sold_out.load(), kThreads * kPerThread - kStock);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Available(), 0);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, AMembersLimitHoldsUnderParallelHoldsOnTwoInstances) {
  Product(100);
  CheckoutStores* instances[] = {&A(), &Second()};
  std::atomic<int> placed{0}, limited{0};
  Together(12, [&](int t) {
    auto r = Await(instances[t % 2]->holds.PlaceHold(Request(7, 1, 3)));
    if (r.ok()) ++placed;
    if (!r.ok() && r.error().code == Errc::kPurchaseLimitReached) ++limited;
  });
  EXPECT_EQ(placed.load(), 3);
  EXPECT_EQ(limited.load(), 9);
  EXPECT_EQ(Ok(Await(A().stock.Snapshot(kProduct))).member_units.at(7), 3);
  EXPECT_EQ(Available(), 97);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, AHoldResolvesExactlyOnceWhenPayCancelAndExpiryRace) {
  constexpr int kHolds = 20;
  Product(kHolds);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < kHolds; ++i) ids.push_back(Place(Request(100 + i)).id);
  const TimePoint before_expiry = Now();
  const TimePoint after_expiry = Now() + std::chrono::minutes(11);
  CheckoutStores& b = Second();
  std::atomic<int> paid{0}, cancelled{0}, expired{0};
  for (int i = 0; i < kHolds; ++i) {
    const std::int64_t id = ids[i];
    const std::int64_t member = 100 + i;
    Together(3, [&](int role) {
      if (role == 0) {  // the member pays (just before the TTL, as their clock saw it)
        auto begun = Await(A().holds.BeginPayment(id, member, before_expiry, std::nullopt,
                                                  "worker-a", after_expiry));
        if (!begun.ok()) return;
        auto done =
            Await(A().holds.CompletePayment(id, {ChargeOutcome::kCaptured, "ref"}, before_expiry));
        if (done.ok()) ++paid;
      } else if (role == 1) {  // the member cancels on another instance
        auto r = Await(b.holds.ReleaseHold(id, member, HoldStatus::kActive,
                                           ReleaseReason::kCancelled, before_expiry));
        if (r.ok()) ++cancelled;
      } else {  // a sweeper runs past the TTL
        auto r = Await(b.holds.ExpireDue(after_expiry, 1000));
        if (r.ok()) expired += static_cast<int>(r->size());
      }
    });
  }
  EXPECT_EQ(paid + cancelled + expired, kHolds) << "each hold ends in exactly one final state";
  int final_paid = 0;
  for (std::int64_t id : ids) final_paid += StatusOf(id) == HoldStatus::kPaid ? 1 : 0;
  EXPECT_EQ(final_paid, paid.load());
  EXPECT_EQ(Available(), kHolds - paid.load()) << "every unpaid hold gave its unit back once";
  ExpectInvariants();
}

TEST_P(HoldStoreContract, CompletingAPaymentAgainAnswersTheSameOrder) {
  Product(5);
  const Hold hold = Place(Request(7));
  Ok(Await(A().holds.BeginPayment(hold.id, 7, Now(), std::nullopt, "w", Now())));
  const PaidOrder first =
      Ok(Await(A().holds.CompletePayment(hold.id, {ChargeOutcome::kCaptured, "ref"}, Now())));
  const PaidOrder again =
      Ok(Await(Second().holds.CompletePayment(hold.id, {ChargeOutcome::kCaptured, "ref"}, Now())));
  EXPECT_EQ(again.order_id, first.order_id);
  EXPECT_EQ(again.payment_id, first.payment_id);
  auto purchase = Ok(Await(A().holds.FindPaidPurchase(first.payment_id)));
  ASSERT_TRUE(purchase.has_value());
  EXPECT_EQ(purchase->member_id, 7);
  EXPECT_EQ(purchase->total, kPrice);
  EXPECT_EQ(Available(), 4);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, TwoSweepersExpireEachDueHoldOnce) {
  constexpr int kHolds = 60;
  Product(kHolds);
  for (int i = 0; i < kHolds; ++i) Place(Request(100 + i));
  const TimePoint later = Now() + std::chrono::minutes(11);
  CheckoutStores* sweepers[] = {&A(), &Second()};
  std::atomic<int> released{0};
  Together(2, [&](int s) {
    // Small batches, so the sweepers interleave.
    while (true) {
      auto r = Await(sweepers[s]->holds.ExpireDue(later, 7));
      if (!r.ok() || r->empty()) break;
      for (const ReleasedUnits& u : *r) {
        for (const HoldLine& l : u.lines) released += static_cast<int>(l.quantity);
      }
    }
  });
  EXPECT_EQ(released.load(), kHolds);
  EXPECT_EQ(Available(), kHolds);
  EXPECT_TRUE(Ok(Await(A().holds.ExpireDue(later, 1000))).empty());
  ExpectInvariants();
}

TEST_P(HoldStoreContract, AHoldNotYetDueIsNotExpired) {
  Product(1);
  const Hold hold = Place(Request(7));
  EXPECT_TRUE(Ok(Await(A().holds.ExpireDue(Now() + std::chrono::minutes(9), 10))).empty());
  EXPECT_EQ(StatusOf(hold.id), HoldStatus::kActive);
}

TEST_P(HoldStoreContract, TwoResolversClaimEachStalePaymentOnceAndNeverALiveLease) {
  constexpr int kHolds = 40;
  Product(kHolds + 1);
  std::set<std::int64_t> stale;
  for (int i = 0; i < kHolds; ++i) {
    HoldRequest r = Request(100 + i);
    r.pay_now = true;
    r.worker = "gone";
    r.payment_lease_until = Now() - std::chrono::seconds(1);
    stale.insert(Place(std::move(r)).id);
  }
  HoldRequest live = Request(99);
  live.pay_now = true;
  live.worker = "alive";
  live.payment_lease_until = Now() + std::chrono::minutes(1);
  const std::int64_t live_id = Place(std::move(live)).id;

  CheckoutStores* resolvers[] = {&A(), &Second()};
  std::mutex mu;
  std::multiset<std::int64_t> claimed;
  const TimePoint lease = Now() + std::chrono::minutes(1);
  Together(2, [&](int s) {
    const std::string worker = s == 0 ? "worker-a" : "worker-b";
    while (true) {
      auto r = Await(resolvers[s]->holds.ClaimStalePayments(worker, Now(), lease, false, 3));
      if (!r.ok() || r->empty()) break;
      std::lock_guard lock(mu);
      claimed.insert(r->begin(), r->end());
    }
  });
  EXPECT_EQ(claimed.size(), stale.size()) << "no hold claimed twice";
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()), stale);
  EXPECT_EQ(claimed.count(live_id), 0u) << "a running lease is not taken";
  // Claimed again only when the new lease ran out; at start a worker takes its own at once.
  EXPECT_TRUE(
      Ok(Await(A().holds.ClaimStalePayments("worker-c", Now(), lease, false, 100))).empty());
  auto own = Ok(Await(A().holds.ClaimStalePayments("alive", Now(), lease, true, 100)));
  EXPECT_EQ(own, std::vector<std::int64_t>{live_id});
  clock_.Advance(std::chrono::minutes(2));
  EXPECT_EQ(Ok(Await(A().holds.ClaimStalePayments("worker-c", Now(),
                                                  Now() + std::chrono::minutes(1), false, 100)))
                .size(),
            stale.size() + 1);
}

TEST_P(HoldStoreContract, OnlyTheOwnerPaysOrCancelsAnActiveHoldBeforeItsExpiry) {
  Product(3);
  const Hold hold = Place(Request(7));
  auto other = Await(A().holds.BeginPayment(hold.id, 8, Now(), std::nullopt, "w", Now()));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Errc::kNotFound);
  auto late = Await(A().holds.BeginPayment(hold.id, 7, Now() + std::chrono::minutes(11),
                                           std::nullopt, "w", Now()));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kHoldExpired);
  auto cancel = Await(
      A().holds.ReleaseHold(hold.id, 8, HoldStatus::kActive, ReleaseReason::kCancelled, Now()));
  ASSERT_FALSE(cancel.ok());
  EXPECT_EQ(cancel.error().code, Errc::kNotFound) << "another member's hold is not theirs to see";
  EXPECT_EQ(StatusOf(hold.id), HoldStatus::kActive);
  auto missing = Await(A().holds.ReleaseHold(hold.id + 1000, 0, HoldStatus::kActive,
                                             ReleaseReason::kCancelled, Now()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  auto released = Await(
      A().holds.ReleaseHold(hold.id, 7, HoldStatus::kActive, ReleaseReason::kCancelled, Now()));
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ(released->member_id, 7);
  ASSERT_EQ(released->lines.size(), hold.lines.size());
  EXPECT_EQ(released->lines.front().product_id, hold.lines.front().product_id);
  EXPECT_EQ(released->lines.front().quantity, hold.lines.front().quantity);
  auto twice = Await(
      A().holds.ReleaseHold(hold.id, 7, HoldStatus::kActive, ReleaseReason::kCancelled, Now()));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::kHoldNotActive);
  EXPECT_EQ(Available(), 3);
  ExpectInvariants();
}

TEST_P(HoldStoreContract, AnExpiredHoldIsNotReleasedAgain) {
  Product(3);
  const Hold hold = Place(Request(7));
  auto expired = Await(A().holds.ExpireDue(Now() + std::chrono::minutes(11), 10));
  ASSERT_TRUE(expired.ok()) << expired.error().message;
  ASSERT_EQ(expired->size(), 1u);
  auto release = Await(
      A().holds.ReleaseHold(hold.id, 7, HoldStatus::kActive, ReleaseReason::kCancelled, Now()));
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.error().code, Errc::kHoldExpired);
  EXPECT_EQ(StatusOf(hold.id), HoldStatus::kExpired);
  EXPECT_EQ(Available(), 3) << "its units came back once";
  ExpectInvariants();
}

TEST_P(HoldStoreContract, BeginningAPaymentClaimsItsKeyAndARefusalClaimsNothing) {
  Product(3);
  const Hold first = Place(Request(7));
  const Hold second = Place(Request(7));
  const IdempotencyTag tag{"pay-key", "hash-1", "pay"};
  auto other = Await(A().holds.BeginPayment(first.id, 8, Now(), tag, "w", Now()));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, Errc::kNotFound);
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(8, tag.key))).has_value())
      << "a refused request claims no key";
  auto late =
      Await(A().holds.BeginPayment(first.id, 7, Now() + std::chrono::minutes(11), tag, "w", Now()));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, Errc::kHoldExpired);
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(7, tag.key))).has_value());

  auto begun = Await(A().holds.BeginPayment(first.id, 7, Now(), tag, "w", Now()));
  ASSERT_TRUE(begun.ok()) << begun.error().message;
  EXPECT_EQ(begun->id, first.id);
  EXPECT_EQ(begun->member_id, 7);
  EXPECT_EQ(begun->status, HoldStatus::kPaying);
  EXPECT_EQ(begun->total, first.total);
  ASSERT_EQ(begun->lines.size(), first.lines.size());
  EXPECT_EQ(begun->lines.front().product_id, first.lines.front().product_id);
  EXPECT_EQ(begun->lines.front().quantity, first.lines.front().quantity);
  EXPECT_EQ(StatusOf(first.id), HoldStatus::kPaying);
  auto recorded = Ok(Await(A().idempotency.Find(7, tag.key)));
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->hold_id, first.id);
  EXPECT_EQ(recorded->request_hash, tag.request_hash);

  auto reused = Await(A().holds.BeginPayment(second.id, 7, Now(), tag, "w", Now()));
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().code, Errc::kRequestInFlight);
  EXPECT_EQ(StatusOf(second.id), HoldStatus::kActive) << "the key's holder decides, not a reuse";
  auto again = Await(A().holds.BeginPayment(first.id, 7, Now(), std::nullopt, "w", Now()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kHoldNotActive);
  ExpectInvariants();
}

}  // namespace rocketmart::checkout::contract

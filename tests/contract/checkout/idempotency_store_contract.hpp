// Contract of IdempotencyStore (services/checkout/ports/idempotency_store.hpp), checked only
// through the checkout store ports (records are claimed by HoldStore's transactions).
//
// The promise: of N parallel first requests with one member's key, on any number of instances,
// exactly one claims the record (the others' transactions change nothing and answer
// kRequestInFlight); Find answers the record from any instance; records of settled holds are
// forgotten after their retention, those of open holds never.
#pragma once

#include <atomic>

#include "contract/checkout/checkout_stores_fixture.hpp"

namespace rocketmart::checkout::contract {

class IdempotencyStoreContract : public CheckoutStoresTest {
 protected:
  static IdempotencyTag Tag(const std::string& key) { return {key, "hash-" + key, "purchase"}; }
};

TEST_P(IdempotencyStoreContract, TheRecordIsClaimedByExactlyOneOfNParallelFirstRequests) {
  Product(50);
  CheckoutStores* instances[] = {&A(), &Second()};
  std::atomic<int> claimed{0}, in_flight{0};
  std::atomic<std::int64_t> winner{0};
  Together(16, [&](int i) {
    HoldRequest r = Request(7);
    r.idempotency = Tag("k1");
    auto placed = Await(instances[i % 2]->holds.PlaceHold(std::move(r)));
    if (placed.ok()) {
      ++claimed;
      winner = placed->id;
    } else if (placed.error().code == Errc::kRequestInFlight) {
      ++in_flight;
    }
  });
  EXPECT_EQ(claimed.load(), 1);
  EXPECT_EQ(in_flight.load(), 15);
  EXPECT_EQ(Available(), 49) << "the losers' transactions left nothing";
  for (CheckoutStores* s : instances) {
    auto entry = Ok(Await(s->idempotency.Find(7, "k1")));
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->hold_id, winner.load());
    EXPECT_EQ(entry->request_hash, "hash-k1");
    EXPECT_EQ(entry->operation, "purchase");
  }
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(8, "k1"))).has_value()) << "keys are per member";
  ExpectInvariants();
}

TEST_P(IdempotencyStoreContract, ARetryIsAnsweredInFlightBeforeAnyRefusalItsFirstRequestCaused) {
  Product(1);
  HoldRequest first = Request(7, 1, 1);
  first.idempotency = Tag("k");
  const Hold hold = Place(first);
  // Sold out and at the member's limit now, because of the first request itself.
  auto retry = Await(Second().holds.PlaceHold(first));
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().code, Errc::kRequestInFlight);
  Ok(Await(
      A().holds.BeginPayment(hold.id, 7, Now(), IdempotencyTag{"pay", "h", "pay"}, "w", Now())));
  auto pay_again = Await(Second().holds.BeginPayment(
      hold.id, 7, Now(), IdempotencyTag{"pay", "h", "pay"}, "w", Now()));
  ASSERT_FALSE(pay_again.ok());
  EXPECT_EQ(pay_again.error().code, Errc::kRequestInFlight);
}

TEST_P(IdempotencyStoreContract, PayingAHoldClaimsItsKeyOnce) {
  Product(5);
  const Hold hold = Place(Request(7));
  std::atomic<int> begun{0};
  CheckoutStores* instances[] = {&A(), &Second()};
  Together(6, [&](int i) {
    IdempotencyTag tag{"pay-1", "h", "pay"};
    auto r = Await(instances[i % 2]->holds.BeginPayment(hold.id, 7, Now(), tag, "w", Now()));
    if (r.ok()) ++begun;
  });
  EXPECT_EQ(begun.load(), 1);
  auto entry = Ok(Await(Second().idempotency.Find(7, "pay-1")));
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->hold_id, hold.id);
}

TEST_P(IdempotencyStoreContract, SettledRecordsAreForgottenAfterRetentionOpenOnesNever) {
  Product(5);
  HoldRequest open = Request(7);
  open.idempotency = Tag("open");
  Place(std::move(open));
  HoldRequest settled = Request(8);
  settled.idempotency = Tag("settled");
  const Hold s = Place(std::move(settled));
  Ok(Await(A().holds.ReleaseHold(s.id, 8, HoldStatus::kActive, ReleaseReason::kCancelled, Now())));
  EXPECT_TRUE(Ok(Await(A().idempotency.Forget(Now(), 100))).empty()) << "not past retention yet";
  clock_.Advance(std::chrono::seconds(1));
  auto forgotten = Ok(Await(Second().idempotency.Forget(Now(), 100)));
  ASSERT_EQ(forgotten.size(), 1u);
  EXPECT_EQ(forgotten[0].member_id, 8);
  EXPECT_EQ(forgotten[0].key, "settled");
  EXPECT_FALSE(Ok(Await(A().idempotency.Find(8, "settled"))).has_value());
  EXPECT_TRUE(Ok(Await(A().idempotency.Find(7, "open"))).has_value());
  std::vector<std::pair<std::int64_t, std::string>> loaded;
  A().idempotency.LoadKeys(
      [&](std::int64_t member, std::string_view key) { loaded.emplace_back(member, key); });
  EXPECT_EQ(loaded, (std::vector<std::pair<std::int64_t, std::string>>{{7, "open"}}));
}

}  // namespace rocketmart::checkout::contract

// What checkout's store contract suites (stock, sales, holds, refunds, idempotency records) are
// parameterised by: a fixture that owns one storage and opens instances of the five stores over
// it. The first Open() is the first instance; each further call opens another over the same
// storage, as a second process would (its own connections and writer), for the clauses with two
// workers, a second instance or redelivery. A second adapter (PostgreSQL) adds one factory.
#pragma once

#include <gtest/gtest.h>

#include <barrier>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "contract/checkout/contract_support.hpp"
#include "core/clock.hpp"
#include "infra/events/event_bus.hpp"
#include "services/checkout/ports/hold_store.hpp"
#include "services/checkout/ports/idempotency_store.hpp"
#include "services/checkout/ports/refund_store.hpp"
#include "services/checkout/ports/sale_store.hpp"
#include "services/checkout/ports/stock_store.hpp"

namespace rocketmart::checkout::contract {

struct CheckoutStores {
  StockStore& stock;
  SaleStore& sales;
  HoldStore& holds;
  RefundStore& refunds;
  IdempotencyStore& idempotency;
};

class CheckoutStoresFixture {
 public:
  virtual ~CheckoutStoresFixture() = default;
  virtual CheckoutStores Open() = 0;
  // Every event the stores appended to checkout's outbox so far (committed), in seq order, read
  // the way a relay reads them.
  virtual std::vector<events::Event> Published() = 0;
};

using CheckoutStoresFactory = std::unique_ptr<CheckoutStoresFixture> (*)();

// Shared by the suites: the first instance, a fake clock, a product with stock, and helpers that
// run real threads released together.
class CheckoutStoresTest : public ::testing::TestWithParam<CheckoutStoresFactory> {
 protected:
  static constexpr std::int64_t kProduct = 1;
  static constexpr std::int64_t kPrice = 1000;

  void SetUp() override {
    fixture_ = GetParam()();
    stores_.emplace_back(fixture_->Open());
  }
  CheckoutStores& A() { return stores_.front(); }
  CheckoutStores& Second() {
    if (stores_.size() < 2) stores_.emplace_back(fixture_->Open());
    return stores_[1];
  }
  TimePoint Now() const { return clock_.Now(); }

  // The catalog's product, with `stock` units, as its creation event brings it.
  void Product(std::int64_t stock, std::int64_t product = kProduct) {
    auto row = Ok(Await(A().stock.ApplyProductFacts(
        ProductFacts{product, kPrice, stock, false, 1, "Drop"}, "checkout.inventory",
        "catalog:" + std::to_string(product), Now())));
    ASSERT_TRUE(row.has_value());
  }
  HoldRequest Request(std::int64_t member, std::int64_t quantity = 1,
                      std::int64_t limit = 1'000'000, std::int64_t product = kProduct) {
    HoldRequest r;
    r.member_id = member;
    r.lines = {{product, quantity, kPrice}};
    r.per_member_limits = {{product, limit}};
    r.now = Now();
    r.expires_at = Now() + std::chrono::minutes(10);
    return r;
  }
  Hold Place(HoldRequest request, CheckoutStores* on = nullptr) {
    return Ok(Await((on ? *on : A()).holds.PlaceHold(std::move(request))));
  }
  // A hold paid through the port: placed, its payment begun and completed.
  PaidOrder PaidHold(std::int64_t member, std::int64_t quantity = 1) {
    const Hold hold = Place(Request(member, quantity));
    Ok(Await(A().holds.BeginPayment(hold.id, member, Now(), std::nullopt, "worker-a",
                                    Now() + std::chrono::minutes(1))));
    return Ok(Await(A().holds.CompletePayment(
        hold.id, {ChargeOutcome::kCaptured, "ref-" + std::to_string(hold.id)}, Now())));
  }
  std::int64_t Available(std::int64_t product = kProduct) {
    return Ok(Await(A().stock.Snapshot(product))).available;
  }
  HoldStatus StatusOf(std::int64_t hold_id) {
    auto found = Ok(Await(A().holds.FindHold(hold_id)));
    EXPECT_TRUE(found.has_value()) << "hold " << hold_id;
    return found ? found->hold.status : HoldStatus::kActive;
  }
  void ExpectInvariants() {
    auto problems = Ok(Await(A().stock.CheckInvariants()));
    for (const auto& p : problems) ADD_FAILURE() << "product " << p.product_id << ": " << p.problem;
  }

  FakeClock clock_;
  std::unique_ptr<CheckoutStoresFixture> fixture_;
  std::deque<CheckoutStores> stores_;  // a deque: references stay valid
};

}  // namespace rocketmart::checkout::contract

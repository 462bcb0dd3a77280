// Contract of OrderStore (services/orders/ports/order_store.hpp), checked only through the port and
// through what the store publishes on the event bus port (the events checkout refunds from).
//
// The promise: a paid order is created once per payment (whatever the event ids, redeliveries, or
// a read that created it first), with its lines, one history line and its first step scheduled
// from the payment; each later step is due a full delay after the previous one was applied, and
// the scheduler applies due steps earliest first, never to an order on hold; every change is a
// guarded transition — a member's cancel (PAID) or return (DELIVERED, inside the window) of their
// own order, an operator's advance or hold — that applies once or changes nothing and answers
// why; a cancel and a received return each publish one event; a refund confirmation is recorded
// once per event and per order. With several instances over one store: two schedulers apply each
// step exactly once between them; a cancel racing the scheduled ship ends in exactly one of the
// two; a paid event redelivered to another instance or racing the read-your-writes creation makes
// one order; two operators holding one order hold it once; an advance or a hold racing the
// scheduler never applies a step twice nor to a held order.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/async/run.hpp"
#include "infra/events/event_bus.hpp"
#include "services/orders/api/events.hpp"
#include "services/orders/ports/order_store.hpp"

namespace rocketmart::orders::contract {

class OrderStoreFixture {
 public:
  virtual ~OrderStoreFixture() = default;
  // An instance of the store over the fixture's storage, with these delays. The first call opens
  // the first; each further call opens another instance over the same storage, as a second
  // process would (its own connections and writer).
  virtual OrderStore& Open(const LifecycleOptions& lifecycle) = 0;
  // Everything the store published so far (order.cancelled, order.returned), in publication order,
  // as an event bus delivers it to a consumer of the orders source, each event once.
  virtual std::vector<events::Event> Published() = 0;
  virtual FakeClock& clock() = 0;
};

using OrderStoreFactory = std::unique_ptr<OrderStoreFixture> (*)();

class OrderStoreContract : public ::testing::TestWithParam<OrderStoreFactory> {
 protected:
  using Hours = std::chrono::hours;
  using Ms = std::chrono::milliseconds;
  // Distinct delays, so a step scheduled with the wrong one shows.
  static LifecycleOptions Delays() {
    return LifecycleOptions{std::chrono::hours(1), std::chrono::hours(2), std::chrono::hours(3),
                            std::chrono::hours(4)};
  }
  static constexpr std::int64_t kOwner = 10;
  static constexpr std::int64_t kOther = 11;

  void SetUp() override {
    fixture_ = GetParam()();
    a_ = &fixture_->Open(Delays());
  }
  OrderStore& Second() { return fixture_->Open(Delays()); }
  TimePoint Now() const { return fixture_->clock().Now(); }
  void Advance(std::chrono::microseconds d) { fixture_->clock().Advance(d); }

  template <class T>
  static T Await(boost::asio::awaitable<T> task) {
    return async::RunToCompletion(std::move(task));
  }
  template <class T>
  static T Ok(Result<T> result) {
    EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
    return result.ok() ? std::move(result).value() : T{};
  }

  // A paid purchase of two lines (2 x product 7 at 1000, 1 x product 8 at 500).
  static PaidOrderEvent Paid(std::int64_t id, std::int64_t member, TimePoint at,
                             std::string event_id = "") {
    if (event_id.empty()) event_id = "checkout:" + std::to_string(id);
    return PaidOrderEvent{std::move(event_id),
                          id,
                          id,
                          member,
                          2500,
                          at,
                          {{7, 2, 1000, "Sneaker"}, {8, 1, 500, "Cap"}}};
  }
  std::size_t RecordPaid(OrderStore& store, std::vector<PaidOrderEvent> events) {
    return Ok(Await(store.RecordPaid(std::move(events), Now())));
  }
  // Orders 1..n of the owner, paid `spacing` apart from now (the first earliest), recorded in
  // batches as the event consumer would.
  void PayOrders(int n, Ms spacing = Ms(0)) {
    std::vector<PaidOrderEvent> batch;
    for (int id = 1; id <= n; ++id) {
      batch.push_back(Paid(id, kOwner, Now() + spacing * id));
      if (batch.size() == 500 || id == n) {
        const std::size_t size = batch.size();
        ASSERT_EQ(RecordPaid(*a_, std::move(batch)), size);
        batch.clear();
      }
    }
  }
  // Orders 1..n paid a millisecond apart, all with their shipping due now, in id order.
  void ShippingDueInIdOrder(int n) {
    PayOrders(n, Ms(1));
    Advance(Delays().ship_after + Ms(n));
  }
  std::optional<Order> Find(std::int64_t id) { return Ok(Await(a_->Find(id))); }
  Order Get(std::int64_t id) {
    auto order = Find(id);
    EXPECT_TRUE(order.has_value()) << "order " << id;
    return order.value_or(Order{});
  }
  std::size_t ApplyDue(OrderStore& store, std::size_t limit = 1000) {
    return Ok(Await(store.ApplyDue(Now(), limit)));
  }
  std::size_t Drain(OrderStore& store, std::size_t limit) {
    std::size_t total = 0;
    while (const std::size_t n = ApplyDue(store, limit)) total += n;
    return total;
  }
  static std::vector<OrderStatus> Transitions(const Order& order) {
    std::vector<OrderStatus> out;
    for (const StatusChange& h : order.history) {
      if (h.kind == "transition") out.push_back(h.status);
    }
    return out;
  }
  static std::vector<std::int64_t> Ids(const std::vector<Order>& orders) {
    std::vector<std::int64_t> out;
    for (const Order& o : orders) out.push_back(o.id);
    return out;
  }
  // The published events of one topic, decoded with the orders api codec.
  std::vector<api::OrderReversed> PublishedOf(std::string_view topic) {
    std::vector<api::OrderReversed> out;
    for (const events::Event& e : fixture_->Published()) {
      if (e.topic != topic) continue;
      auto decoded = api::DecodeOrderReversed(e.payload);
      EXPECT_TRUE(decoded.ok()) << e.payload;
      if (decoded.ok()) out.push_back(std::move(decoded).value());
    }
    return out;
  }
  // A refused change of order `id`: the error code, and the order exactly as it was before.
  void ExpectRefused(std::int64_t id, Errc code, const std::function<Result<Order>()>& change) {
    const Order before = Get(id);
    Result<Order> result = change();
    ASSERT_FALSE(result.ok()) << "order " << id;
    EXPECT_EQ(result.error().code, code) << result.error().message;
    const Order after = Get(id);
    EXPECT_EQ(after.status, before.status);
    EXPECT_EQ(after.on_hold, before.on_hold);
    EXPECT_EQ(after.history.size(), before.history.size());
    EXPECT_EQ(after.updated_at, before.updated_at);
  }
  // Walks order `id` to DELIVERED through the scheduler; returns the delivery time.
  TimePoint Deliver(std::int64_t id) {
    Advance(Delays().ship_after);
    ApplyDue(*a_);
    Advance(Delays().deliver_after);
    ApplyDue(*a_);
    EXPECT_EQ(Get(id).status, OrderStatus::kDelivered);
    return Now();
  }

  // A person (`act(id)`, on one instance) racing the scheduler (`worker`, on another) over orders
  // 1..n due in id order: the person acts first on order n, before the scheduler runs (so the
  // person's outcome happens); the scheduler then applies its first batch, the earliest-due orders
  // (so the scheduler's outcome happens); from there both run at once, the person from n-1 down,
  // the scheduler from the bottom up, and meet in between. Returns the steps the scheduler applied.
  std::size_t RaceTheScheduler(OrderStore& worker, int n, std::size_t batch,
                               const std::function<void(std::int64_t)>& act) {
    act(n);
    std::latch first_batch(1);
    std::size_t applied = 0;
    std::thread scheduler([&] {
      applied += ApplyDue(worker, batch);
      first_batch.count_down();
      applied += Drain(worker, batch);
    });
    first_batch.wait();
    for (std::int64_t id = n - 1; id >= 1; --id) act(id);
    scheduler.join();
    return applied;
  }

  std::unique_ptr<OrderStoreFixture> fixture_;
  OrderStore* a_ = nullptr;
};

// --- One instance ---

TEST_P(OrderStoreContract, APaidOrderIsCreatedOnceWithItsLinesHistoryAndFirstStep) {
  const TimePoint paid_at = Now() - Ms(1500);
  EXPECT_EQ(RecordPaid(*a_, {Paid(1, kOwner, paid_at), Paid(2, kOther, paid_at)}), 2u);
  EXPECT_EQ(RecordPaid(*a_, {Paid(1, kOwner, paid_at), Paid(2, kOther, paid_at)}), 0u)
      << "redelivered";
  const Order o = Get(1);
  EXPECT_EQ(o.member_id, kOwner);
  EXPECT_EQ(o.payment_id, 1);
  EXPECT_EQ(o.status, OrderStatus::kPaid);
  EXPECT_EQ(o.total, 2500);
  EXPECT_EQ(ToUnixMillis(o.created_at), ToUnixMillis(paid_at));
  EXPECT_FALSE(o.on_hold);
  EXPECT_FALSE(o.delivered_at.has_value());
  EXPECT_FALSE(o.refund.has_value());
  std::vector<OrderLine> lines = o.lines;
  std::sort(lines.begin(), lines.end(),
            [](const OrderLine& x, const OrderLine& y) { return x.product_id < y.product_id; });
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].product_id, 7);
  EXPECT_EQ(lines[0].quantity, 2);
  EXPECT_EQ(lines[0].price, 1000);
  EXPECT_EQ(lines[0].name, "Sneaker");
  EXPECT_EQ(lines[1].product_id, 8);
  EXPECT_EQ(lines[1].name, "Cap");
  ASSERT_EQ(o.history.size(), 1u);
  EXPECT_EQ(o.history[0].status, OrderStatus::kPaid);
  EXPECT_EQ(o.history[0].kind, "transition");
  EXPECT_EQ(ToUnixMillis(o.history[0].at), ToUnixMillis(paid_at));
  EXPECT_EQ(o.history[0].actor_id, 0);
  ASSERT_TRUE(o.next.has_value());
  EXPECT_EQ(o.next->from, OrderStatus::kPaid);
  EXPECT_EQ(o.next->to, OrderStatus::kShipping);
  EXPECT_EQ(ToUnixMillis(o.next->due_at), ToUnixMillis(paid_at + Delays().ship_after))
      << "due from the payment, not from when the event arrived";
  EXPECT_EQ(Get(2).member_id, kOther);
  EXPECT_FALSE(Find(999).has_value());
}

TEST_P(OrderStoreContract, TheSamePaymentUnderAnotherEventIdCreatesNothing) {
  EXPECT_EQ(RecordPaid(*a_, {Paid(1, kOwner, Now(), "checkout:1")}), 1u);
  EXPECT_EQ(RecordPaid(*a_, {Paid(1, kOwner, Now() + Ms(5), "checkout:replayed-1")}), 0u);
  const Order o = Get(1);
  EXPECT_EQ(o.history.size(), 1u);
  EXPECT_EQ(o.lines.size(), 2u);
  EXPECT_EQ(Ok(Await(a_->CountForMember(kOwner))), 1);
}

TEST_P(OrderStoreContract, AnOrderCreatedBeforeItsEventIsNotCreatedAgainByTheEvent) {
  PaidOrderEvent read = Paid(1, kOwner, Now());
  read.event_id.clear();
  EXPECT_TRUE(Ok(Await(a_->RecordPaidNow(read))));
  EXPECT_FALSE(Ok(Await(a_->RecordPaidNow(read)))) << "a second read";
  EXPECT_EQ(Get(1).status, OrderStatus::kPaid);
  ASSERT_TRUE(Get(1).next.has_value());
  EXPECT_EQ(RecordPaid(*a_, {Paid(1, kOwner, Now())}), 0u) << "the event, late";
  EXPECT_EQ(Get(1).history.size(), 1u);
  EXPECT_EQ(Get(1).lines.size(), 2u);
}

TEST_P(OrderStoreContract, EachStepIsDueAFullDelayAfterThePreviousOneWasApplied) {
  const TimePoint t0 = Now();
  RecordPaid(*a_, {Paid(1, kOwner, t0)});
  Advance(Delays().ship_after - Ms(1));
  EXPECT_EQ(ApplyDue(*a_), 0u) << "not due yet";
  Advance(Ms(1));
  EXPECT_EQ(ApplyDue(*a_), 1u);
  EXPECT_EQ(Get(1).status, OrderStatus::kShipping);
  EXPECT_EQ(ApplyDue(*a_), 0u) << "the next step is a full delay away";
  ASSERT_TRUE(Get(1).next.has_value());
  EXPECT_EQ(Get(1).next->to, OrderStatus::kDelivered);
  EXPECT_EQ(ToUnixMillis(Get(1).next->due_at), ToUnixMillis(Now() + Delays().deliver_after));

  // A scheduler that was away for a month applies one step, and schedules the next from now.
  Advance(Hours(24 * 30));
  EXPECT_EQ(Drain(*a_, 10), 1u);
  const Order delivered = Get(1);
  EXPECT_EQ(delivered.status, OrderStatus::kDelivered);
  ASSERT_TRUE(delivered.delivered_at.has_value());
  EXPECT_EQ(ToUnixMillis(*delivered.delivered_at), ToUnixMillis(Now()));
  ASSERT_TRUE(delivered.next.has_value());
  EXPECT_EQ(delivered.next->to, OrderStatus::kCompleted);
  EXPECT_EQ(ToUnixMillis(delivered.next->due_at), ToUnixMillis(Now() + Delays().return_window));

  Advance(Delays().return_window);
  EXPECT_EQ(ApplyDue(*a_), 1u);
  const Order done = Get(1);
  EXPECT_EQ(done.status, OrderStatus::kCompleted);
  EXPECT_FALSE(done.next.has_value());
  EXPECT_EQ(Transitions(done),
            (std::vector<OrderStatus>{OrderStatus::kPaid, OrderStatus::kShipping,
                                      OrderStatus::kDelivered, OrderStatus::kCompleted}));
  Advance(Hours(24 * 365));
  EXPECT_EQ(ApplyDue(*a_), 0u) << "final";
  EXPECT_TRUE(fixture_->Published().empty()) << "a completed order is not refunded";
}

TEST_P(OrderStoreContract, ApplyDueAppliesAtMostItsLimitEarliestDueFirst) {
  // Recorded latest-paid first, so the store's insertion order is not the due order.
  const TimePoint t0 = Now();
  for (std::int64_t id = 5; id >= 1; --id) RecordPaid(*a_, {Paid(id, kOwner, t0 + Ms(id))});
  Advance(Delays().ship_after + Ms(10));
  EXPECT_EQ(ApplyDue(*a_, 2), 2u);
  EXPECT_EQ(Get(1).status, OrderStatus::kShipping);
  EXPECT_EQ(Get(2).status, OrderStatus::kShipping);
  EXPECT_EQ(Get(3).status, OrderStatus::kPaid);
  EXPECT_EQ(ApplyDue(*a_, 10), 3u);
  EXPECT_EQ(ApplyDue(*a_, 10), 0u);
}

TEST_P(OrderStoreContract, AMemberCancelsOnlyTheirOwnPaidOrderAndOneEventIsPublished) {
  RecordPaid(*a_, {Paid(1, kOwner, Now()), Paid(2, kOwner, Now())});
  ExpectRefused(1, Errc::kNotFound, [&] { return Await(a_->Cancel(1, kOther, Now())); });
  EXPECT_EQ(Await(a_->Cancel(999, kOwner, Now())).error().code, Errc::kNotFound);

  Advance(Ms(5));
  auto cancelled = Await(a_->Cancel(1, kOwner, Now()));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, OrderStatus::kCancelled);
  EXPECT_FALSE(cancelled->next.has_value());
  EXPECT_EQ(cancelled->history.back().status, OrderStatus::kCancelled);
  EXPECT_EQ(ToUnixMillis(cancelled->updated_at), ToUnixMillis(Now()));
  ExpectRefused(1, Errc::kOrderNotCancellable, [&] { return Await(a_->Cancel(1, kOwner, Now())); });

  // Shipped: too late.
  Advance(Delays().ship_after);
  EXPECT_EQ(ApplyDue(*a_), 1u) << "only the order still paid ships";
  ExpectRefused(2, Errc::kOrderNotCancellable, [&] { return Await(a_->Cancel(2, kOwner, Now())); });

  const auto published = PublishedOf(api::kOrderCancelled);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].order_id, 1);
  EXPECT_EQ(published[0].payment_id, 1);
  EXPECT_EQ(published[0].member_id, kOwner);
  EXPECT_EQ(published[0].total, 2500);
  EXPECT_EQ(published[0].status, "CANCELLED");
  EXPECT_EQ(published[0].lines.size(), 2u);
  EXPECT_TRUE(PublishedOf(api::kOrderReturned).empty());
  Advance(Hours(24 * 10));
  EXPECT_EQ(Get(1).status, OrderStatus::kCancelled) << "final: the scheduler leaves it";
}

TEST_P(OrderStoreContract, AReturnIsAcceptedInsideTheWindowAndPublishedOnlyWhenReceived) {
  RecordPaid(*a_, {Paid(1, kOwner, Now()), Paid(2, kOwner, Now()), Paid(3, kOwner, Now())});
  ExpectRefused(1, Errc::kOrderNotReturnable,
                [&] { return Await(a_->RequestReturn(1, kOwner, Now())); });
  const TimePoint delivered_at = Deliver(1);
  ExpectRefused(1, Errc::kNotFound, [&] { return Await(a_->RequestReturn(1, kOther, Now())); });

  // The last millisecond of the window.
  Advance(Delays().return_window - Ms(1));
  auto requested = Await(a_->RequestReturn(1, kOwner, Now()));
  ASSERT_TRUE(requested.ok()) << requested.error().message;
  EXPECT_EQ(requested->status, OrderStatus::kReturnRequested);
  ASSERT_TRUE(requested->next.has_value());
  EXPECT_EQ(requested->next->to, OrderStatus::kReturned);
  EXPECT_TRUE(fixture_->Published().empty()) << "nothing is refunded before the return arrives";
  // Order 2: the window is over (its completion is due but has not been applied yet).
  Advance(Ms(1));
  EXPECT_EQ(Now(), delivered_at + Delays().return_window);
  ExpectRefused(2, Errc::kReturnWindowClosed,
                [&] { return Await(a_->RequestReturn(2, kOwner, Now())); });
  ApplyDue(*a_);
  EXPECT_EQ(Get(2).status, OrderStatus::kCompleted);
  ExpectRefused(2, Errc::kReturnWindowClosed,
                [&] { return Await(a_->RequestReturn(2, kOwner, Now())); });

  Advance(Delays().return_receive_after);
  EXPECT_EQ(ApplyDue(*a_), 1u);
  EXPECT_EQ(Get(1).status, OrderStatus::kReturned);
  EXPECT_EQ(
      Transitions(Get(1)),
      (std::vector<OrderStatus>{OrderStatus::kPaid, OrderStatus::kShipping, OrderStatus::kDelivered,
                                OrderStatus::kReturnRequested, OrderStatus::kReturned}));
  const auto returned = PublishedOf(api::kOrderReturned);
  ASSERT_EQ(returned.size(), 1u);
  EXPECT_EQ(returned[0].order_id, 1);
  EXPECT_EQ(returned[0].status, "RETURNED");
  EXPECT_TRUE(PublishedOf(api::kOrderCancelled).empty());
}

TEST_P(OrderStoreContract, AnOrderOnHoldIsSkippedByTheSchedulerUntilReleased) {
  RecordPaid(*a_, {Paid(1, kOwner, Now())});
  auto held = Await(a_->SetHold(1, true, "address check", 42, Now()));
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_TRUE(held->on_hold);
  EXPECT_EQ(held->status, OrderStatus::kPaid);
  EXPECT_EQ(held->history.back().kind, "hold");
  EXPECT_EQ(held->history.back().actor_id, 42);
  EXPECT_NE(held->history.back().cause.find("address check"), std::string::npos);
  ExpectRefused(1, Errc::kConflict,
                [&] { return Await(a_->SetHold(1, true, "again", 42, Now())); });
  EXPECT_EQ(Await(a_->SetHold(999, true, "x", 42, Now())).error().code, Errc::kNotFound);

  Advance(Delays().ship_after * 5);
  EXPECT_EQ(ApplyDue(*a_), 0u) << "held";
  EXPECT_EQ(Get(1).status, OrderStatus::kPaid);
  auto released = Await(a_->SetHold(1, false, "address ok", 43, Now()));
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released->on_hold);
  EXPECT_EQ(released->history.back().kind, "release");
  ExpectRefused(1, Errc::kConflict,
                [&] { return Await(a_->SetHold(1, false, "again", 43, Now())); });
  EXPECT_EQ(ApplyDue(*a_), 1u) << "the step that fell due meanwhile applies on the next run";
  EXPECT_EQ(Get(1).status, OrderStatus::kShipping);
}

TEST_P(OrderStoreContract, AnOperatorAppliesTheNextStepNowAndAMemberStillCancelsAHeldOrder) {
  RecordPaid(*a_, {Paid(1, kOwner, Now()), Paid(2, kOwner, Now())});
  ASSERT_TRUE(Await(a_->SetHold(1, true, "check", 42, Now())).ok());
  auto advanced = Await(a_->Advance(1, "courier early", 42, Now()));
  ASSERT_TRUE(advanced.ok()) << advanced.error().message;
  EXPECT_EQ(advanced->status, OrderStatus::kShipping) << "on hold or not";
  EXPECT_EQ(advanced->history.back().actor_id, 42);
  EXPECT_NE(advanced->history.back().cause.find("courier early"), std::string::npos);
  ASSERT_TRUE(advanced->next.has_value());
  EXPECT_EQ(advanced->next->to, OrderStatus::kDelivered);
  EXPECT_EQ(Await(a_->Advance(999, "x", 42, Now())).error().code, Errc::kNotFound);

  ASSERT_TRUE(Await(a_->SetHold(2, true, "check", 42, Now())).ok());
  auto cancelled = Await(a_->Cancel(2, kOwner, Now()));
  ASSERT_TRUE(cancelled.ok()) << "a hold does not block the member's cancel";
  ExpectRefused(2, Errc::kConflict, [&] { return Await(a_->Advance(2, "x", 42, Now())); });
  ExpectRefused(2, Errc::kConflict, [&] { return Await(a_->SetHold(2, false, "x", 42, Now())); });
}

TEST_P(OrderStoreContract, ListsAreNewestFirstPagedFilteredAndCounted) {
  for (std::int64_t id = 1; id <= 5; ++id) {
    RecordPaid(*a_, {Paid(id, id % 2 == 1 ? kOwner : kOther, Now())});
  }
  ASSERT_TRUE(Await(a_->Cancel(3, kOwner, Now())).ok());
  EXPECT_EQ(Ids(Ok(Await(a_->ListForMember(kOwner, 0, 2)))), (std::vector<std::int64_t>{5, 3}));
  EXPECT_EQ(Ids(Ok(Await(a_->ListForMember(kOwner, 3, 20)))), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(Ok(Await(a_->ListForMember(kOwner, 0, 20))).front().lines.size(), 2u);
  EXPECT_EQ(Ok(Await(a_->CountForMember(kOwner))), 3);
  EXPECT_TRUE(Ok(Await(a_->ListForMember(99, 0, 20))).empty());
  EXPECT_EQ(Ok(Await(a_->CountForMember(99))), 0);

  AdminOrderQuery all;
  EXPECT_EQ(Ids(Ok(Await(a_->ListForAdmin(all)))), (std::vector<std::int64_t>{5, 4, 3, 2, 1}));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin(all))), 5);
  all.before_id = 4;
  all.limit = 2;
  EXPECT_EQ(Ids(Ok(Await(a_->ListForAdmin(all)))), (std::vector<std::int64_t>{3, 2}));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin(all))), 5) << "paging aside";
  AdminOrderQuery paid;
  paid.status = OrderStatus::kPaid;
  EXPECT_EQ(Ids(Ok(Await(a_->ListForAdmin(paid)))), (std::vector<std::int64_t>{5, 4, 2, 1}));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin(paid))), 4);
  paid.member_id = kOwner;
  EXPECT_EQ(Ids(Ok(Await(a_->ListForAdmin(paid)))), (std::vector<std::int64_t>{5, 1}));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin(paid))), 2);
  AdminOrderQuery mine;
  mine.member_id = kOther;
  EXPECT_EQ(Ids(Ok(Await(a_->ListForAdmin(mine)))), (std::vector<std::int64_t>{4, 2}));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin(mine))), 2);
  AdminOrderQuery product;
  product.product_id = 8;
  EXPECT_EQ(Ok(Await(a_->ListForAdmin(product))).size(), 5u);
  product.product_id = 9;
  EXPECT_TRUE(Ok(Await(a_->ListForAdmin(product))).empty());
}

TEST_P(OrderStoreContract, TheTallyCountsOrdersUnitsAndAmountPerStatus) {
  RecordPaid(*a_, {Paid(1, kOwner, Now()), Paid(2, kOwner, Now()), Paid(3, kOwner, Now())});
  ASSERT_TRUE(Await(a_->Cancel(2, kOwner, Now())).ok());
  const auto tally = Ok(Await(a_->TallyForProduct(7)));
  ASSERT_EQ(tally.size(), 2u);
  EXPECT_EQ(tally.at(OrderStatus::kPaid).orders, 2);
  EXPECT_EQ(tally.at(OrderStatus::kPaid).units, 4);
  EXPECT_EQ(tally.at(OrderStatus::kPaid).amount, 4000);
  EXPECT_EQ(tally.at(OrderStatus::kCancelled).orders, 1);
  EXPECT_EQ(tally.at(OrderStatus::kCancelled).units, 2);
  EXPECT_EQ(tally.at(OrderStatus::kCancelled).amount, 2000);
  EXPECT_EQ(Ok(Await(a_->TallyForProduct(8))).at(OrderStatus::kPaid).amount, 1000);
  EXPECT_TRUE(Ok(Await(a_->TallyForProduct(9))).empty());
}

TEST_P(OrderStoreContract, ARefundConfirmationIsRecordedOncePerEventAndPerOrder) {
  RecordPaid(*a_, {Paid(1, kOwner, Now())});
  ASSERT_TRUE(Await(a_->Cancel(1, kOwner, Now())).ok());
  EXPECT_FALSE(Get(1).refund.has_value()) << "not confirmed yet";
  const TimePoint at = Now() + Ms(250);
  std::vector<PaymentRefundedEvent> confirmed{{"checkout:r1", 1, 2500, at}};
  EXPECT_EQ(Ok(Await(a_->RecordRefunds(confirmed, Now()))), 1u);
  EXPECT_EQ(Ok(Await(a_->RecordRefunds(confirmed, Now()))), 0u) << "redelivered";
  std::vector<PaymentRefundedEvent> again{{"checkout:r2", 1, 999, at + Ms(5)}};
  EXPECT_EQ(Ok(Await(a_->RecordRefunds(again, Now()))), 0u) << "another confirmation";
  const Order o = Get(1);
  ASSERT_TRUE(o.refund.has_value());
  EXPECT_EQ(o.refund->status, RefundStatus::kRefunded);
  EXPECT_EQ(o.refund->amount, 2500);
  ASSERT_TRUE(o.refund->at.has_value());
  EXPECT_EQ(ToUnixMillis(*o.refund->at), ToUnixMillis(at));
}

TEST_P(OrderStoreContract, EnsureScheduledLeavesScheduledOrdersAlone) {
  RecordPaid(*a_, {Paid(1, kOwner, Now())});
  const Order before = Get(1);
  EXPECT_EQ(Ok(Await(a_->EnsureScheduled(Now() + Hours(5)))), 0u);
  EXPECT_EQ(Ok(Await(Second().EnsureScheduled(Now() + Hours(5)))), 0u);
  ASSERT_TRUE(Get(1).next.has_value());
  EXPECT_EQ(Get(1).next->due_at, before.next->due_at);
}

// --- Several instances over one store ---

TEST_P(OrderStoreContract, TwoWorkersApplyEachScheduledStepExactlyOnce) {
  constexpr int kOrders = 600;
  PayOrders(kOrders);
  OrderStore& b = Second();
  for (const OrderStatus step : {OrderStatus::kShipping, OrderStatus::kDelivered}) {
    Advance(step == OrderStatus::kShipping ? Delays().ship_after : Delays().deliver_after);
    std::barrier start(2);
    std::size_t by_a = 0;
    std::size_t by_b = 0;
    std::thread ta([&] {
      start.arrive_and_wait();
      by_a = Drain(*a_, 25);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      by_b = Drain(b, 25);
    });
    ta.join();
    tb.join();
    EXPECT_EQ(by_a + by_b, static_cast<std::size_t>(kOrders)) << "a: " << by_a << ", b: " << by_b;
    for (std::int64_t id = 1; id <= kOrders; ++id) {
      const Order o = Get(id);
      ASSERT_EQ(o.status, step) << "order " << id;
      ASSERT_EQ(std::count_if(o.history.begin(), o.history.end(),
                              [step](const StatusChange& h) { return h.status == step; }),
                1)
          << "order " << id << " went through " << OrderStatusName(step) << " twice";
    }
  }
  EXPECT_EQ(Ok(Await(a_->CountForAdmin({}))), kOrders);
}

TEST_P(OrderStoreContract, ACancelRacingTheScheduledShipEndsInExactlyOneOfTheTwo) {
  constexpr int kOrders = 400;
  ShippingDueInIdOrder(kOrders);
  OrderStore& member_side = Second();
  int cancelled = 0;
  int refused = 0;
  std::vector<std::int64_t> cancelled_ids;
  const std::size_t shipped = RaceTheScheduler(*a_, kOrders, 20, [&](std::int64_t id) {
    auto r = Await(member_side.Cancel(id, kOwner, Now()));
    if (r.ok()) {
      ++cancelled;
      cancelled_ids.push_back(id);
    } else {
      EXPECT_EQ(r.error().code, Errc::kOrderNotCancellable) << r.error().message;
      ++refused;
    }
  });
  EXPECT_EQ(cancelled + refused, kOrders);
  EXPECT_GT(cancelled, 0) << "the member won some";
  EXPECT_GT(refused, 0) << "the scheduler won some";
  EXPECT_EQ(shipped, static_cast<std::size_t>(refused));
  int in_cancelled = 0;
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const Order o = Get(id);
    const auto transitions = Transitions(o);
    ASSERT_EQ(transitions.size(), 2u) << "order " << id;
    EXPECT_EQ(transitions[1], o.status);
    ASSERT_TRUE(o.status == OrderStatus::kCancelled || o.status == OrderStatus::kShipping)
        << "order " << id;
    if (o.status == OrderStatus::kCancelled) ++in_cancelled;
  }
  EXPECT_EQ(in_cancelled, cancelled);
  std::vector<std::int64_t> published;
  for (const auto& e : PublishedOf(api::kOrderCancelled)) published.push_back(e.order_id);
  std::sort(published.begin(), published.end());
  std::sort(cancelled_ids.begin(), cancelled_ids.end());
  EXPECT_EQ(published, cancelled_ids) << "one event per cancel, none for a shipped order";
}

TEST_P(OrderStoreContract, APaidEventRedeliveredOrRacingTheReadCreatesOneOrder) {
  constexpr int kOrders = 200;
  std::vector<PaidOrderEvent> events;
  for (int id = 1; id <= kOrders; ++id) events.push_back(Paid(id, kOwner, Now()));
  OrderStore& b = Second();
  std::barrier start(4);
  std::atomic<std::size_t> created{0};
  auto deliver = [&](OrderStore& store) {
    start.arrive_and_wait();
    created += RecordPaid(store, events);
  };
  auto read_first = [&](OrderStore& store) {
    start.arrive_and_wait();
    for (PaidOrderEvent e : events) {
      e.event_id.clear();
      if (Ok(Await(store.RecordPaidNow(std::move(e))))) ++created;
    }
  };
  std::thread t1(deliver, std::ref(*a_));
  std::thread t2(deliver, std::ref(b));  // the same batch, redelivered to another instance
  std::thread t3(read_first, std::ref(b));
  std::thread t4(read_first, std::ref(*a_));
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  EXPECT_EQ(created.load(), static_cast<std::size_t>(kOrders));
  EXPECT_EQ(Ok(Await(a_->CountForAdmin({}))), kOrders);
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const Order o = Get(id);
    ASSERT_EQ(o.history.size(), 1u) << "order " << id;
    ASSERT_EQ(o.lines.size(), 2u) << "order " << id;
  }
  EXPECT_EQ(RecordPaid(*a_, events), 0u) << "and once more, later";
}

TEST_P(OrderStoreContract, ARefundConfirmationDeliveredToTwoInstancesAtOnceIsRecordedOnce) {
  constexpr int kOrders = 100;
  PayOrders(kOrders);
  std::vector<PaymentRefundedEvent> confirmed;
  std::vector<PaymentRefundedEvent> replayed;
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    ASSERT_TRUE(Await(a_->Cancel(id, kOwner, Now())).ok());
    confirmed.push_back({"checkout:r" + std::to_string(id), id, 2500, Now()});
    replayed.push_back({"checkout:replayed-r" + std::to_string(id), id, 1, Now()});
  }
  OrderStore& b = Second();
  std::barrier start(3);
  std::atomic<std::size_t> changed{0};
  auto deliver = [&](OrderStore& store, const std::vector<PaymentRefundedEvent>& events) {
    start.arrive_and_wait();
    changed += Ok(Await(store.RecordRefunds(events, Now())));
  };
  std::thread t1(deliver, std::ref(*a_), std::cref(confirmed));
  std::thread t2(deliver, std::ref(b), std::cref(confirmed));
  std::thread t3(deliver, std::ref(b), std::cref(replayed));
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(changed.load(), static_cast<std::size_t>(kOrders));
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const Order o = Get(id);
    ASSERT_TRUE(o.refund.has_value());
    ASSERT_EQ(o.refund->status, RefundStatus::kRefunded);
  }
}

TEST_P(OrderStoreContract, TwoOperatorsHoldingOneOrderAtOnceHoldItOnce) {
  constexpr int kOrders = 150;
  PayOrders(kOrders);
  OrderStore& b = Second();
  std::barrier start(2);
  std::atomic<int> held{0};
  std::atomic<int> conflicts{0};
  auto hold_all = [&](OrderStore& store, std::int64_t admin) {
    start.arrive_and_wait();
    for (std::int64_t id = 1; id <= kOrders; ++id) {
      auto r = Await(store.SetHold(id, true, "check", admin, Now()));
      if (r.ok()) {
        ++held;
      } else {
        EXPECT_EQ(r.error().code, Errc::kConflict);
        ++conflicts;
      }
    }
  };
  std::thread ta(hold_all, std::ref(*a_), 42);
  std::thread tb(hold_all, std::ref(b), 43);
  ta.join();
  tb.join();
  EXPECT_EQ(held.load(), kOrders);
  EXPECT_EQ(conflicts.load(), kOrders);
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const Order o = Get(id);
    ASSERT_TRUE(o.on_hold);
    ASSERT_EQ(std::count_if(o.history.begin(), o.history.end(),
                            [](const StatusChange& h) { return h.kind == "hold"; }),
              1)
        << "order " << id;
  }
}

TEST_P(OrderStoreContract, AHoldRacingTheSchedulerNeverLetsAStepApplyToAHeldOrder) {
  constexpr int kOrders = 400;
  ShippingDueInIdOrder(kOrders);
  OrderStore& operator_side = Second();
  int held_paid = 0;
  int held_shipped = 0;
  const std::size_t shipped = RaceTheScheduler(*a_, kOrders, 20, [&](std::int64_t id) {
    auto r = Await(operator_side.SetHold(id, true, "check", 42, Now()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    (r->status == OrderStatus::kPaid ? held_paid : held_shipped) += 1;
  });
  EXPECT_GT(held_paid, 0) << "the hold came first for some";
  EXPECT_GT(held_shipped, 0) << "the ship came first for some";
  EXPECT_EQ(shipped, static_cast<std::size_t>(held_shipped));
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const Order o = Get(id);
    ASSERT_TRUE(o.on_hold);
    ASSERT_EQ(o.history.back().kind, "hold") << "order " << id << ": a step after the hold";
    ASSERT_EQ(Transitions(o).size(), o.status == OrderStatus::kPaid ? 1u : 2u) << "order " << id;
  }
  EXPECT_EQ(Drain(*a_, 50), 0u) << "held orders stay where they are";
}

TEST_P(OrderStoreContract, AnAdvanceRacingTheSchedulerAppliesNoStepTwice) {
  constexpr int kOrders = 400;
  ShippingDueInIdOrder(kOrders);
  OrderStore& operator_side = Second();
  int advanced_to_shipping = 0;
  int advanced_to_delivered = 0;
  const std::size_t shipped = RaceTheScheduler(*a_, kOrders, 20, [&](std::int64_t id) {
    auto r = Await(operator_side.Advance(id, "by hand", 42, Now()));
    ASSERT_TRUE(r.ok()) << r.error().message;
    // The step out of the status the advance found: PAID (it shipped the order) or SHIPPING (the
    // scheduler had).
    (r->status == OrderStatus::kShipping ? advanced_to_shipping : advanced_to_delivered) += 1;
  });
  EXPECT_GT(advanced_to_shipping, 0);
  EXPECT_GT(advanced_to_delivered, 0);
  EXPECT_EQ(shipped + static_cast<std::size_t>(advanced_to_shipping),
            static_cast<std::size_t>(kOrders))
      << "each order shipped once, by one of the two";
  for (std::int64_t id = 1; id <= kOrders; ++id) {
    const auto transitions = Transitions(Get(id));
    ASSERT_GE(transitions.size(), 2u);
    ASSERT_EQ(transitions[1], OrderStatus::kShipping) << "order " << id;
    ASSERT_EQ(std::count(transitions.begin(), transitions.end(), OrderStatus::kShipping), 1)
        << "order " << id;
  }
}

}  // namespace rocketmart::orders::contract

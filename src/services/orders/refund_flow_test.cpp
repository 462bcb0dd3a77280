// Cancel and return events through the orders relay into checkout: every cancelled order and every
// received return is refunded and restocked exactly once, even when events are delivered twice,
// and a refund the provider failed is retried until it settles. Real databases, fake clock.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "infra/async/run.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/migrations.hpp"
#include "services/catalog/clients/in_process/product_directory.hpp"
#include "services/checkout/adapters/embedded_checkout_ports.hpp"
#include "services/checkout/adapters/order_events_subscriber.hpp"
#include "services/checkout/api/events.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/checkout/clients/in_process/clients.hpp"
#include "services/orders/adapters/order_paid_subscriber.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "services/orders/api/events.hpp"
#include "services/orders/orders_service.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::orders {
namespace {

using boost::asio::awaitable;
using checkout::ChargeOutcome;
using checkout::ChargeRecord;
using rocketmart::testing::TempDir;

constexpr auto kDay = std::chrono::hours(24);
constexpr std::int64_t kProduct = 7;
constexpr std::int64_t kPrice = 1000;

// Captures everything; refunds can be made to fail. Idempotent by hold id like the real port.
class FakeProvider final : public checkout::PaymentProvider {
 public:
  awaitable<Result<ChargeRecord>> Charge(std::int64_t hold_id, std::int64_t /*member_id*/,
                                         std::int64_t /*amount*/) override {
    std::lock_guard lock(mu_);
    charges_[hold_id] = ChargeOutcome::kCaptured;
    ChargeRecord record{ChargeOutcome::kCaptured, "ref-" + std::to_string(hold_id)};
    co_return record;
  }
  awaitable<Result<std::optional<ChargeRecord>>> Lookup(std::int64_t hold_id) override {
    std::lock_guard lock(mu_);
    auto it = charges_.find(hold_id);
    if (it == charges_.end()) co_return std::optional<ChargeRecord>{};
    co_return std::optional<ChargeRecord>{
        ChargeRecord{it->second, "ref-" + std::to_string(hold_id)}};
  }
  awaitable<Result<std::optional<ChargeRecord>>> Void(std::int64_t hold_id) override {
    co_return co_await Lookup(hold_id);  // these tests never void a hold
  }
  awaitable<Result<ChargeRecord>> Refund(std::int64_t hold_id) override {
    std::lock_guard lock(mu_);
    ++refund_calls_;
    if (fail_refunds_) {
      Error e = MakeError(Errc::kUnavailable, "provider down");
      co_return e;
    }
    charges_[hold_id] = ChargeOutcome::kRefunded;
    refunded_.insert(hold_id);
    ChargeRecord record{ChargeOutcome::kRefunded, "ref-" + std::to_string(hold_id)};
    co_return record;
  }
  void FailRefunds(bool fail) {
    std::lock_guard lock(mu_);
    fail_refunds_ = fail;
  }
  std::size_t Refunded() {
    std::lock_guard lock(mu_);
    return refunded_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::int64_t, ChargeOutcome> charges_;
  std::set<std::int64_t> refunded_;
  int refund_calls_ = 0;
  bool fail_refunds_ = false;
};

// The per-sale summary is not what these tests look at.
class NoSaleFigures final : public SaleFiguresSource {
 public:
  awaitable<Result<std::optional<SaleFigures>>> Figures(std::int64_t, Deadline) override {
    co_return std::optional<SaleFigures>{};
  }
};

struct Db {
  Db(const std::string& path, std::span<const storage::Migration> migrations) {
    storage::OpenOptions open;
    open.path = path;
    writer = std::make_unique<storage::GroupCommitWriter>(open);
    storage::Migrate(writer->Connection(), migrations);
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
  }
  ~Db() { writer->Stop(); }
  std::int64_t Count(const std::string& sql) {
    auto s = readers->ForThisThread().Prepare(sql);
    s.Step();
    return s.Int64(0);
  }
  std::unique_ptr<storage::GroupCommitWriter> writer;
  std::unique_ptr<storage::ReadConnections> readers;
};

class RefundFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    checkout_db_ = std::make_unique<Db>(dir_.File("checkout.db"), checkout::CheckoutMigrations());
    orders_db_ = std::make_unique<Db>(dir_.File("orders.db"), OrdersMigrations());
    bus_.AddService("checkout", *checkout_db_->writer, *checkout_db_->readers);
    bus_.AddService("orders", *orders_db_->writer, *orders_db_->readers);
    checkout_ports_ = std::make_unique<checkout::EmbeddedCheckoutPorts>(*checkout_db_->writer,
                                                                        *checkout_db_->readers);
    checkout_ = std::make_unique<checkout::CheckoutService>(
        checkout_ports_->With(provider_, no_catalog_), clock_, metrics_);
    order_store_ = std::make_unique<SqliteOrderStore>(*orders_db_->writer, *orders_db_->readers);
    payments_ = std::make_unique<checkout::InProcessPaymentsClient>(*checkout_);
    orders_ = std::make_unique<OrdersService>(OrdersPorts{*order_store_, *payments_, no_figures_},
                                              clock_);
    paid_subscriber_ = std::make_unique<OrderPaidSubscriber>(*orders_);
    refunds_subscriber_ = std::make_unique<checkout::OrderEventsSubscriber>(*checkout_);
    bus_.Subscribe(
        {"checkout", {"order.paid"}, "orders", events::Delivery::kEffect, paid_subscriber_.get()});
    refunded_subscriber_ = std::make_unique<PaymentRefundedSubscriber>(*orders_);
    bus_.Subscribe({"checkout",
                    {std::string(checkout::api::kPaymentRefunded)},
                    "orders",
                    events::Delivery::kEffect,
                    refunded_subscriber_.get()});
    bus_.Subscribe({"orders",
                    {std::string(api::kOrderCancelled), std::string(api::kOrderReturned)},
                    "checkout",
                    events::Delivery::kEffect,
                    refunds_subscriber_.get()});
    checkout_db_->writer->Start();
    orders_db_->writer->Start();
    ASSERT_TRUE(async::RunToCompletion(checkout_->Load()).ok());
    ASSERT_TRUE(async::RunToCompletion(orders_->Load()).ok());
    ProductEvent({kProduct, kPrice, 100, false, 1}, "catalog:1");
    const TimePoint now = clock_.Now();
    checkout::Sale sale{now - std::chrono::hours(1), now + 30 * kDay, 10};
    ASSERT_TRUE(async::RunToCompletion(checkout_->SetSale(kProduct, sale, kNoDeadline)).ok());
  }

  // A catalog product event as the bus delivers it in one process: effect, then cache refresh.
  void ProductEvent(const checkout::ProductFacts& facts, const std::string& event_id) {
    ASSERT_TRUE(async::RunToCompletion(checkout_->RecordProductFacts(facts, event_id)).ok());
    checkout_->RefreshProductFacts(facts);
  }
  std::int64_t Buy(std::int64_t member, std::int64_t quantity) {
    std::vector<checkout::PurchaseLine> lines{{kProduct, quantity}};
    auto answer = async::RunToCompletion(
        checkout_->Purchase(checkout::Buyer{member, true}, std::move(lines), std::nullopt));
    EXPECT_TRUE(answer.result.ok());
    return answer.result->order_id;
  }
  void DeliverPaid() {
    while (bus_.DeliverOnceForTest("checkout")) {
    }
  }
  // Delivers, keeping a copy of what was delivered (the relay prunes delivered rows).
  void DeliverOrderEvents() {
    for (auto& e : OrderEvents()) delivered_[e.id] = std::move(e);
    while (bus_.DeliverOnceForTest("orders")) {
    }
  }
  void Walk(std::chrono::hours by) {
    clock_.Advance(by);
    while (async::RunToCompletion(orders_->RunSchedulerOnce()) > 0) {
    }
  }
  std::vector<events::Event> OrderEvents() {
    std::vector<events::Event> out;
    auto s = orders_db_->readers->ForThisThread().Prepare(
        "SELECT seq, topic, payload FROM outbox ORDER BY seq");
    while (s.Step()) {
      out.push_back({"orders:" + std::to_string(s.Int64(0)), s.Text(1), s.Text(2), clock_.Now()});
    }
    return out;
  }

  TempDir dir_{"refunds"};
  FakeClock clock_;
  metrics::Registry metrics_;
  FakeProvider provider_;
  std::unique_ptr<Db> checkout_db_;
  std::unique_ptr<Db> orders_db_;
  events::sqlite_outbox::SqliteEventBus bus_{clock_};
  // Checkout knows its products from their events here: it never asks the catalog.
  catalog::InProcessProductDirectory no_catalog_;  // never bound
  std::unique_ptr<checkout::EmbeddedCheckoutPorts> checkout_ports_;
  std::unique_ptr<checkout::CheckoutService> checkout_;
  std::unique_ptr<SqliteOrderStore> order_store_;
  std::unique_ptr<OrdersService> orders_;
  std::unique_ptr<checkout::InProcessPaymentsClient> payments_;
  NoSaleFigures no_figures_;
  std::unique_ptr<OrderPaidSubscriber> paid_subscriber_;
  std::unique_ptr<PaymentRefundedSubscriber> refunded_subscriber_;
  std::unique_ptr<checkout::OrderEventsSubscriber> refunds_subscriber_;
  std::map<std::string, events::Event> delivered_;
};

TEST_F(RefundFlowTest, AMalformedOrderPaidIsSetAsideWithoutHoldingBackTheOrdersAfterIt) {
  const std::int64_t first = Buy(1, 1);
  // An event this build cannot decode (a producer of another version, a hand-made row).
  checkout_db_->writer->RunSync([this](storage::Database& db) {
    events::sqlite_outbox::Append(db, "order.paid", R"({"orderId":"not a number"})", clock_.Now());
  });
  const std::int64_t second = Buy(2, 1);
  DeliverPaid();
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM orders"), 2);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM orders WHERE id IN (" + std::to_string(first) +
                              ", " + std::to_string(second) + ")"),
            2);
  EXPECT_EQ(bus_.Stats("checkout").dead_letters, 1u);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM event_dead_letters WHERE source = 'checkout' "
                              "AND subscriber = 'orders.order_paid' AND topic = 'order.paid'"),
            1);
  EXPECT_EQ(bus_.Lag("checkout", "orders.order_paid"), 0);
}

// Issue 11 point 2: the order a purchase names is read and cancelled by its owner before its
// order.paid was delivered (the relay never ran), from checkout's record; the event, delivered
// afterwards, changes nothing: one order, one history.
TEST_F(RefundFlowTest, AnOrderIsReadAndCancelledBeforeItsEventAndTheEventChangesNothing) {
  const std::int64_t read_first = Buy(3, 2);
  const std::int64_t cancel_first = Buy(3, 1);
  ASSERT_EQ(orders_db_->Count("SELECT COUNT(*) FROM orders"), 0) << "no event was delivered";
  // Another member: not found, and nothing is created for them.
  EXPECT_EQ(async::RunToCompletion(orders_->GetForMember(4, read_first, kNoDeadline)).error().code,
            Errc::kNotFound);
  EXPECT_EQ(async::RunToCompletion(orders_->Cancel(4, cancel_first, kNoDeadline)).error().code,
            Errc::kNotFound);
  EXPECT_EQ(async::RunToCompletion(orders_->GetForMember(3, 987654, kNoDeadline)).error().code,
            Errc::kNotFound);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM orders"), 0);

  auto read = async::RunToCompletion(orders_->GetForMember(3, read_first, kNoDeadline));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->status, OrderStatus::kPaid);
  EXPECT_EQ(read->total, 2 * kPrice);
  ASSERT_EQ(read->lines.size(), 1u);
  EXPECT_EQ(read->lines[0].quantity, 2);
  EXPECT_EQ(read->lines[0].price, kPrice);
  EXPECT_EQ(read->history.size(), 1u);
  ASSERT_TRUE(read->next.has_value());
  EXPECT_EQ(read->next->to, OrderStatus::kShipping);
  auto cancelled = async::RunToCompletion(orders_->Cancel(3, read_first, kNoDeadline));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, OrderStatus::kCancelled);
  auto cancelled_at_once = async::RunToCompletion(orders_->Cancel(3, cancel_first, kNoDeadline));
  ASSERT_TRUE(cancelled_at_once.ok()) << cancelled_at_once.error().message;
  EXPECT_EQ(cancelled_at_once->history.size(), 2u);

  DeliverPaid();  // the events arrive late
  EXPECT_EQ(bus_.Lag("checkout", "orders.order_paid"), 0);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM orders"), 2);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM order_history"), 4);
  EXPECT_EQ(orders_db_->Count("SELECT COUNT(*) FROM order_lines"), 2);
  for (std::int64_t id : {read_first, cancel_first}) {
    auto order = async::RunToCompletion(orders_->GetForMember(3, id, kNoDeadline));
    ASSERT_TRUE(order.ok());
    EXPECT_EQ(order->status, OrderStatus::kCancelled);
    EXPECT_EQ(order->history.size(), 2u);
  }
  // The cancels refund once each.
  DeliverOrderEvents();
  EXPECT_EQ(provider_.Refunded(), 2u);
  EXPECT_EQ(checkout_->Available(kProduct), 100);
}

// Order lines carry the product's name from checkout's product facts; an order.paid written before
// names existed (no "name") still decodes, with an empty name.
TEST_F(RefundFlowTest, OrderLinesCarryTheProductNameAndOldEventsWithoutOneStillDecode) {
  checkout::ProductFacts named{kProduct, kPrice, 100, false, 2, "Sneaker"};
  ProductEvent(named, "catalog:2");
  const std::int64_t id = Buy(5, 1);
  checkout_db_->writer->RunSync([this](storage::Database& db) {
    events::sqlite_outbox::Append(
        db, "order.paid",
        R"({"orderId":9001,"paymentId":9001,"holdId":1,"memberId":6,"total":1000,)"
        R"("lines":[{"productId":7,"quantity":1,"price":1000}],"paidAtMs":1})",
        clock_.Now());
  });
  DeliverPaid();
  EXPECT_EQ(bus_.Stats("checkout").dead_letters, 0u);
  auto named_order = async::RunToCompletion(orders_->GetForMember(5, id, kNoDeadline));
  ASSERT_TRUE(named_order.ok());
  ASSERT_EQ(named_order->lines.size(), 1u);
  EXPECT_EQ(named_order->lines[0].name, "Sneaker");
  auto old_order = async::RunToCompletion(orders_->GetForMember(6, 9001, kNoDeadline));
  ASSERT_TRUE(old_order.ok());
  ASSERT_EQ(old_order->lines.size(), 1u);
  EXPECT_EQ(old_order->lines[0].name, "");
  EXPECT_EQ(old_order->lines[0].price, 1000);
}

TEST_F(RefundFlowTest, RefundsAndRestocksEqualCancelsPlusReceivedReturnsEvenWhenRedelivered) {
  std::vector<std::int64_t> ids;
  for (std::int64_t member = 1; member <= 10; ++member) ids.push_back(Buy(member, 2));
  DeliverPaid();
  ASSERT_EQ(checkout_->Available(kProduct), 80);
  // Three cancels before shipping.
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(async::RunToCompletion(orders_->Cancel(k + 1, ids[k], kNoDeadline)).ok());
  }
  Walk(kDay);  // the rest ship
  Walk(kDay);  // and are delivered
  for (int k = 3; k < 5; ++k) {
    ASSERT_TRUE(async::RunToCompletion(orders_->RequestReturn(k + 1, ids[k], kNoDeadline)).ok());
  }
  DeliverOrderEvents();
  // A requested return is not refunded before it is received.
  EXPECT_EQ(provider_.Refunded(), 3u);
  EXPECT_EQ(checkout_->Available(kProduct), 86);
  Walk(kDay);  // the returns are received
  DeliverOrderEvents();
  Walk(7 * kDay);  // the others complete

  // Every event delivered a second time (a relay crash before its cursor advanced), and once more
  // under other ids (a producer replay): nothing changes.
  std::vector<events::Event> events;
  for (const auto& [id, e] : delivered_) events.push_back(e);
  ASSERT_EQ(events.size(), 5u);
  refunds_subscriber_->Handle(events);
  auto replayed = events;
  for (auto& e : replayed) e.id += "-replay";
  refunds_subscriber_->Handle(replayed);

  EXPECT_EQ(provider_.Refunded(), 5u);
  EXPECT_EQ(checkout_db_->Count("SELECT COUNT(*) FROM payments WHERE status = 'REFUNDED'"), 5);
  EXPECT_EQ(checkout_db_->Count("SELECT COUNT(*) FROM payments WHERE refund_pending = 1"), 0);
  EXPECT_EQ(checkout_db_->Count("SELECT COALESCE(SUM(quantity), 0) FROM stock_ledger "
                                "WHERE kind = 'RETURN'"),
            10);
  EXPECT_EQ(checkout_->Available(kProduct), 90);
  // Conservation holds with refunded units.
  EXPECT_EQ(async::RunToCompletion(checkout_->Reconcile()).problems, 0u);
  const auto figures = *async::RunToCompletion(checkout_->SaleFigures(kProduct));
  ASSERT_TRUE(figures.has_value());
  EXPECT_EQ(figures->available, 90);
  EXPECT_EQ(figures->sold, 10);
  EXPECT_EQ(figures->refunded_units, 10);
  EXPECT_EQ(figures->revenue, 10 * kPrice);
  EXPECT_EQ(figures->refunded_amount, 10 * kPrice);
  const auto tally = *async::RunToCompletion(order_store_->TallyForProduct(kProduct));
  EXPECT_EQ(tally.at(OrderStatus::kCancelled).units + tally.at(OrderStatus::kReturned).units,
            figures->refunded_units);
  EXPECT_EQ(tally.at(OrderStatus::kCompleted).orders, 5);
  // A returned member may buy again: their per-sale count went down.
  Buy(1, 10);
}

// The member's own order shows its refund: PENDING (the order's total) once cancelled, REFUNDED
// with the amount and time once checkout reports the provider's confirmation (payment.refunded),
// recorded once whatever the redelivery.
TEST_F(RefundFlowTest, ACancelledOrderShowsItsRefundPendingThenConfirmed) {
  const std::int64_t id = Buy(4, 3);
  DeliverPaid();
  auto read = [&] {
    auto order = async::RunToCompletion(orders_->GetForMember(4, id, kNoDeadline));
    EXPECT_TRUE(order.ok());
    return RefundOf(*order);
  };
  EXPECT_FALSE(read().has_value()) << "a paid order has no refund";
  provider_.FailRefunds(true);
  ASSERT_TRUE(async::RunToCompletion(orders_->Cancel(4, id, kNoDeadline)).ok());
  ASSERT_TRUE(read().has_value());
  EXPECT_EQ(read()->status, RefundStatus::kPending);
  EXPECT_EQ(read()->amount, 3 * kPrice);
  EXPECT_FALSE(read()->at.has_value());
  DeliverOrderEvents();  // checkout refunds and restocks; the provider fails
  DeliverPaid();
  EXPECT_EQ(read()->status, RefundStatus::kPending);

  provider_.FailRefunds(false);
  clock_.Advance(std::chrono::minutes(5));
  const TimePoint settled_at = clock_.Now();
  EXPECT_EQ(async::RunToCompletion(checkout_->RetryPendingRefunds()), 1u);
  DeliverPaid();
  ASSERT_TRUE(read().has_value());
  EXPECT_EQ(read()->status, RefundStatus::kRefunded);
  EXPECT_EQ(read()->amount, 3 * kPrice);
  ASSERT_TRUE(read()->at.has_value());
  EXPECT_EQ(ToUnixMillis(*read()->at), ToUnixMillis(settled_at));
  // Settling again emits nothing; a confirmation delivered again (another id) changes nothing.
  EXPECT_EQ(async::RunToCompletion(checkout_->RetryPendingRefunds()), 0u);
  (void)async::RunToCompletion(checkout_->RefundAndRestock(id, "orders:again"));
  std::vector<PaymentRefundedEvent> again{{"checkout:again", id, 1, clock_.Now()}};
  EXPECT_EQ(*async::RunToCompletion(orders_->OnPaymentsRefunded(again)), 0u);
  EXPECT_EQ(ToUnixMillis(*read()->at), ToUnixMillis(settled_at));
  EXPECT_EQ(read()->amount, 3 * kPrice);
}

TEST_F(RefundFlowTest, AFailedProviderRefundStaysPendingUntilRetried) {
  const std::int64_t id = Buy(1, 3);
  DeliverPaid();
  provider_.FailRefunds(true);
  ASSERT_TRUE(async::RunToCompletion(orders_->Cancel(1, id, kNoDeadline)).ok());
  DeliverOrderEvents();
  // Stock is back at once; the money is owed.
  EXPECT_EQ(checkout_->Available(kProduct), 100);
  EXPECT_EQ(checkout_db_->Count("SELECT COUNT(*) FROM payments WHERE refund_pending = 1"), 1);
  EXPECT_EQ(async::RunToCompletion(checkout_->RetryPendingRefunds()), 0u);
  provider_.FailRefunds(false);
  EXPECT_EQ(async::RunToCompletion(checkout_->RetryPendingRefunds()), 1u);
  EXPECT_EQ(provider_.Refunded(), 1u);
  EXPECT_EQ(checkout_db_->Count("SELECT COUNT(*) FROM payments WHERE refund_pending = 1"), 0);
  EXPECT_EQ(async::RunToCompletion(checkout_->RetryPendingRefunds()), 0u);
  EXPECT_EQ(checkout_->Available(kProduct), 100);
}

}  // namespace
}  // namespace rocketmart::orders

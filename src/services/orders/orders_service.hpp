// The orders service: creates orders from checkout's order.paid events (idempotent by payment id),
// moves them through their life on a durable schedule (orders.db, see OrderStore), lets a member
// cancel or return, and gives operators views and manual control.
//
// Thread-safety: every public method may be called from any thread concurrently; writes are
// guarded in the store, so two OrdersService objects over the same store (two instances, two
// schedulers) apply each transition once (see ports/order_store.hpp). Every call that touches a
// port is awaitable. Time comes only from the injected Clock.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "services/orders/ports/order_store.hpp"
#include "services/orders/ports/payments_client.hpp"
#include "services/orders/ports/sale_figures_source.hpp"

namespace rocketmart::orders {

struct OrderPage {
  std::vector<Order> items;
  std::int64_t next_before_id = 0;    // 0 on the last page
  std::optional<std::int64_t> total;  // every order the filters match, when cheap to know
};

struct OrdersOptions {
  std::size_t scheduler_batch = 1000;  // transitions per transaction
};

// Everything the service talks to, injected once: its store and its clients of checkout (bound
// in-process by the composition root, HTTP clients when the services run apart).
struct OrdersPorts {
  OrderStore& store;
  // Checkout's record of a paid purchase: a member's order whose order.paid has not arrived yet.
  PaymentsClient& payments;
  // Checkout's stock and money figures of a product's sale: the operator's summary.
  SaleFiguresSource& sale_figures;
};

// The operator's view of one product's sale: checkout's stock and money figures beside the
// orders' own counts per status.
struct SaleSummary {
  std::int64_t product_id = 0;
  std::optional<SaleFigures> checkout;  // nullopt when checkout does not know the product
  std::map<OrderStatus, StatusTally> orders;
};

inline constexpr std::size_t kMaxReasonChars = 500;

class OrdersService {
 public:
  OrdersService(OrdersPorts ports, const Clock& clock, OrdersOptions options = {})
      : store_(ports.store),
        payments_(ports.payments),
        figures_(ports.sale_figures),
        clock_(clock),
        options_(options) {}

  // Start-up: schedules orders that predate the schedule.
  boost::asio::awaitable<Status> Load();

  // Effects of checkout's events (the subscribers in adapters/order_paid_subscriber): order.paid
  // creates the orders, payment.refunded shows the refunds on them. Each returns how many changed.
  boost::asio::awaitable<Result<std::size_t>> OnOrdersPaid(std::vector<PaidOrderEvent> events);
  boost::asio::awaitable<Result<std::size_t>> OnPaymentsRefunded(
      std::vector<PaymentRefundedEvent> events);

  // The member's own orders, newest first (GET /order; my page reads it through OrdersClient).
  boost::asio::awaitable<Result<OrderPage>> ListForMember(std::int64_t member_id,
                                                          std::int64_t before_id,
                                                          std::size_t limit);
  // Another member's order answers kNotFound, exactly like a missing one. The member's own order
  // is there as soon as its purchase answered: when its order.paid event has not arrived yet, the
  // order is created from checkout's record (PaymentsClient) by the same idempotent path the event
  // takes (read-your-writes). kUnavailable when checkout cannot be asked, kTimeout when it did not
  // answer by `deadline` (the member's request's, passed on to checkout).
  boost::asio::awaitable<Result<Order>> GetForMember(std::int64_t member_id, std::int64_t order_id,
                                                     Deadline deadline);
  boost::asio::awaitable<Result<Order>> Cancel(std::int64_t member_id, std::int64_t order_id,
                                               Deadline deadline);
  boost::asio::awaitable<Result<Order>> RequestReturn(std::int64_t member_id, std::int64_t order_id,
                                                      Deadline deadline);

  // The scheduler: one batch of due transitions in one transaction; returns how many applied
  // (0 also when the store is overloaded: the next run retries). Call until it returns less than
  // the batch to drain. Safe on several instances at once (the store claims the steps).
  boost::asio::awaitable<std::size_t> RunSchedulerOnce();
  std::size_t scheduler_batch() const { return options_.scheduler_batch; }

  // Operators.
  boost::asio::awaitable<Result<OrderPage>> ListForAdmin(AdminOrderQuery query);
  boost::asio::awaitable<Result<Order>> GetForAdmin(std::int64_t order_id);
  // `actor_id`: the admin doing it, recorded in the order's history (0 = unknown).
  boost::asio::awaitable<Result<Order>> Advance(std::int64_t order_id, std::string reason,
                                                std::int64_t actor_id = 0);
  boost::asio::awaitable<Result<Order>> SetHold(std::int64_t order_id, bool hold,
                                                std::string reason, std::int64_t actor_id = 0);
  // kNotFound when neither checkout nor the orders know the product (a product created a moment
  // ago is unknown until its stock reaches checkout through the catalog's event); kUnavailable
  // when checkout cannot be asked.
  // `deadline`: the operator's request's, passed on to checkout.
  boost::asio::awaitable<Result<SaleSummary>> Summary(std::int64_t product_id, Deadline deadline);

 private:
  // The member's order `order_id` is missing here: creates it from checkout's record if checkout
  // has that payment and it is the member's. True when the order now exists for the member.
  boost::asio::awaitable<Result<bool>> CreateFromCheckout(std::int64_t member_id,
                                                          std::int64_t order_id, Deadline deadline);
  // A member's change of their order (cancel, return); when the order is missing, creates it from
  // checkout's record and tries once more.
  boost::asio::awaitable<Result<Order>> ChangeOwnOrder(
      std::int64_t member_id, std::int64_t order_id, Deadline deadline,
      std::function<boost::asio::awaitable<Result<Order>>()> change);

  OrderStore& store_;
  PaymentsClient& payments_;
  SaleFiguresSource& figures_;
  const Clock& clock_;
  const OrdersOptions options_;
};

}  // namespace rocketmart::orders

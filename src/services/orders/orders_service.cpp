#include "services/orders/orders_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace rocketmart::orders {
namespace {

Status ValidateReason(const std::string& reason) {
  if (reason.empty() || reason.size() > kMaxReasonChars) {
    return MakeError(Errc::kValidationFailed, "reason must be 1 to 500 characters", "reason");
  }
  return Ok();
}

Status ValidateLimit(std::size_t limit) {
  if (limit < 1 || limit > kMaxOrdersPage) {
    return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
  }
  return Ok();
}

// A page asked for with one item more than `limit`: the extra one says there is a next page.
OrderPage Paged(std::vector<Order> items, std::size_t limit) {
  OrderPage page;
  page.items = std::move(items);
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_before_id = page.items.back().id;
  }
  return page;
}

}  // namespace

boost::asio::awaitable<Status> OrdersService::Load() {
  const TimePoint now = clock_.Now();
  auto scheduled = co_await store_.EnsureScheduled(now);
  if (!scheduled.ok()) co_return scheduled.error();
  if (*scheduled > 0) {
    spdlog::info("orders: scheduled {} orders created before the durable schedule", *scheduled);
  }
  co_return Ok();
}

boost::asio::awaitable<Result<std::size_t>> OrdersService::OnOrdersPaid(
    std::vector<PaidOrderEvent> events) {
  const TimePoint now = clock_.Now();
  co_return co_await store_.RecordPaid(std::move(events), now);
}

boost::asio::awaitable<Result<std::size_t>> OrdersService::OnPaymentsRefunded(
    std::vector<PaymentRefundedEvent> events) {
  const TimePoint now = clock_.Now();
  co_return co_await store_.RecordRefunds(std::move(events), now);
}

boost::asio::awaitable<Result<OrderPage>> OrdersService::ListForMember(std::int64_t member_id,
                                                                       std::int64_t before_id,
                                                                       std::size_t limit) {
  if (auto st = ValidateLimit(limit); !st.ok()) co_return st.error();
  auto items = co_await store_.ListForMember(member_id, before_id, limit + 1);
  if (!items.ok()) co_return items.error();
  auto total = co_await store_.CountForMember(member_id);
  if (!total.ok()) co_return total.error();
  OrderPage page = Paged(std::move(*items), limit);
  page.total = *total;
  co_return page;
}

boost::asio::awaitable<Result<bool>> OrdersService::CreateFromCheckout(std::int64_t member_id,
                                                                       std::int64_t order_id,
                                                                       Deadline deadline) {
  auto paid = co_await payments_.PaidOrder(order_id, deadline);
  if (!paid.ok()) co_return paid.error();
  // Another member's payment stays unknown to this member (and is not created for them).
  if (!*paid || (*paid)->member_id != member_id) co_return false;
  auto created = co_await store_.RecordPaidNow(std::move(**paid));
  if (!created.ok()) co_return created.error();
  co_return true;
}

boost::asio::awaitable<Result<Order>> OrdersService::GetForMember(std::int64_t member_id,
                                                                  std::int64_t order_id,
                                                                  Deadline deadline) {
  auto order = co_await store_.Find(order_id);
  if (!order.ok()) co_return order.error();
  if (!*order) {
    auto created = co_await CreateFromCheckout(member_id, order_id, deadline);
    if (!created.ok()) co_return created.error();
    if (*created) {
      order = co_await store_.Find(order_id);
      if (!order.ok()) co_return order.error();
    }
  }
  if (!*order || (*order)->member_id != member_id) {
    co_return MakeError(Errc::kNotFound, "no such order");
  }
  co_return std::move(**order);
}

boost::asio::awaitable<Result<Order>> OrdersService::ChangeOwnOrder(
    std::int64_t member_id, std::int64_t order_id, Deadline deadline,
    std::function<boost::asio::awaitable<Result<Order>>()> change) {
  auto first = co_await change();
  if (first.ok() || first.error().code != Errc::kNotFound) co_return first;
  auto created = co_await CreateFromCheckout(member_id, order_id, deadline);
  if (!created.ok()) co_return created.error();
  if (!*created) co_return first;
  auto again = co_await change();
  co_return again;
}

boost::asio::awaitable<Result<Order>> OrdersService::Cancel(std::int64_t member_id,
                                                            std::int64_t order_id,
                                                            Deadline deadline) {
  std::function<boost::asio::awaitable<Result<Order>>()> cancel = [this, member_id, order_id] {
    return store_.Cancel(order_id, member_id, clock_.Now());
  };
  co_return co_await ChangeOwnOrder(member_id, order_id, deadline, std::move(cancel));
}

boost::asio::awaitable<Result<Order>> OrdersService::RequestReturn(std::int64_t member_id,
                                                                   std::int64_t order_id,
                                                                   Deadline deadline) {
  // A just-paid order created here is not returnable yet: ORDER_NOT_RETURNABLE, not NOT_FOUND.
  std::function<boost::asio::awaitable<Result<Order>>()> request = [this, member_id, order_id] {
    return store_.RequestReturn(order_id, member_id, clock_.Now());
  };
  co_return co_await ChangeOwnOrder(member_id, order_id, deadline, std::move(request));
}

boost::asio::awaitable<std::size_t> OrdersService::RunSchedulerOnce() {
  const TimePoint now = clock_.Now();
  auto applied = co_await store_.ApplyDue(now, options_.scheduler_batch);
  if (!applied.ok()) {
    spdlog::warn("orders: scheduler batch not applied: {}", applied.error().message);
    co_return 0;
  }
  co_return *applied;
}

boost::asio::awaitable<Result<OrderPage>> OrdersService::ListForAdmin(AdminOrderQuery query) {
  if (auto st = ValidateLimit(query.limit); !st.ok()) co_return st.error();
  const std::size_t limit = query.limit;
  query.limit = limit + 1;
  auto items = co_await store_.ListForAdmin(query);
  if (!items.ok()) co_return items.error();
  auto total = co_await store_.CountForAdmin(query);
  if (!total.ok()) co_return total.error();
  OrderPage page = Paged(std::move(*items), limit);
  page.total = *total;
  co_return page;
}

boost::asio::awaitable<Result<Order>> OrdersService::GetForAdmin(std::int64_t order_id) {
  auto order = co_await store_.Find(order_id);
  if (!order.ok()) co_return order.error();
  if (!*order) co_return MakeError(Errc::kNotFound, "no such order");
  co_return std::move(**order);
}

boost::asio::awaitable<Result<Order>> OrdersService::Advance(std::int64_t order_id,
                                                             std::string reason,
                                                             std::int64_t actor_id) {
  if (auto st = ValidateReason(reason); !st.ok()) co_return st.error();
  const TimePoint now = clock_.Now();
  co_return co_await store_.Advance(order_id, std::move(reason), actor_id, now);
}

boost::asio::awaitable<Result<Order>> OrdersService::SetHold(std::int64_t order_id, bool hold,
                                                             std::string reason,
                                                             std::int64_t actor_id) {
  if (auto st = ValidateReason(reason); !st.ok()) co_return st.error();
  const TimePoint now = clock_.Now();
  co_return co_await store_.SetHold(order_id, hold, std::move(reason), actor_id, now);
}

boost::asio::awaitable<Result<SaleSummary>> OrdersService::Summary(std::int64_t product_id,
                                                                   Deadline deadline) {
  auto figures = co_await figures_.Figures(product_id, deadline);
  if (!figures.ok()) co_return figures.error();
  auto tally = co_await store_.TallyForProduct(product_id);
  if (!tally.ok()) co_return tally.error();
  if (!*figures && tally->empty()) co_return MakeError(Errc::kNotFound, "no such product");
  SaleSummary s;
  s.product_id = product_id;
  s.checkout = *figures;
  s.orders = std::move(*tally);
  co_return s;
}

}  // namespace rocketmart::orders

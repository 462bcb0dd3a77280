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

}  // namespace

void OrdersService::Load() {
  if (const std::size_t n = store_.EnsureScheduled(clock_.Now()); n > 0) {
    spdlog::info("orders: scheduled {} orders created before the durable schedule", n);
  }
}

std::size_t OrdersService::OnOrdersPaid(std::span<const PaidOrderEvent> events) {
  return store_.RecordPaid(events, clock_.Now());
}

std::size_t OrdersService::OnPaymentsRefunded(std::span<const PaymentRefundedEvent> events) {
  return store_.RecordRefunds(events, clock_.Now());
}

Result<OrderPage> OrdersService::ListForMember(std::int64_t member_id, std::int64_t before_id,
                                               std::size_t limit) {
  if (limit < 1 || limit > kMaxOrdersPage) {
    return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
  }
  OrderPage page;
  page.items = store_.ListForMember(member_id, before_id, limit + 1);
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_before_id = page.items.back().id;
  }
  page.total = store_.CountForMember(member_id);
  return page;
}

boost::asio::awaitable<Result<bool>> OrdersService::CreateFromCheckout(std::int64_t member_id,
                                                                       std::int64_t order_id) {
  if (payments_ == nullptr) co_return false;
  auto paid = co_await payments_->PaidOrder(order_id);
  if (!paid.ok()) co_return paid.error();
  // Another member's payment stays unknown to this member (and is not created for them).
  if (!*paid || (*paid)->member_id != member_id) co_return false;
  auto created = co_await store_.RecordPaidNow(std::move(**paid));
  if (!created.ok()) co_return created.error();
  co_return true;
}

boost::asio::awaitable<Result<Order>> OrdersService::GetForMember(std::int64_t member_id,
                                                                  std::int64_t order_id) {
  auto order = store_.Find(order_id);
  if (!order) {
    auto created = co_await CreateFromCheckout(member_id, order_id);
    if (!created.ok()) co_return created.error();
    if (*created) order = store_.Find(order_id);
  }
  if (!order || order->member_id != member_id) {
    co_return MakeError(Errc::kNotFound, "no such order");
  }
  co_return std::move(*order);
}

boost::asio::awaitable<Result<Order>> OrdersService::ChangeOwnOrder(
    std::int64_t member_id, std::int64_t order_id,
    std::function<boost::asio::awaitable<Result<Order>>()> change) {
  auto first = co_await change();
  if (first.ok() || first.error().code != Errc::kNotFound) co_return first;
  auto created = co_await CreateFromCheckout(member_id, order_id);
  if (!created.ok()) co_return created.error();
  if (!*created) co_return first;
  auto again = co_await change();
  co_return again;
}

boost::asio::awaitable<Result<Order>> OrdersService::Cancel(std::int64_t member_id,
                                                            std::int64_t order_id) {
  std::function<boost::asio::awaitable<Result<Order>>()> cancel = [this, member_id, order_id] {
    return store_.Cancel(order_id, member_id, clock_.Now());
  };
  co_return co_await ChangeOwnOrder(member_id, order_id, std::move(cancel));
}

boost::asio::awaitable<Result<Order>> OrdersService::RequestReturn(std::int64_t member_id,
                                                                   std::int64_t order_id) {
  // A just-paid order created here is not returnable yet: ORDER_NOT_RETURNABLE, not NOT_FOUND.
  std::function<boost::asio::awaitable<Result<Order>>()> request = [this, member_id, order_id] {
    return store_.RequestReturn(order_id, member_id, clock_.Now());
  };
  co_return co_await ChangeOwnOrder(member_id, order_id, std::move(request));
}

boost::asio::awaitable<std::size_t> OrdersService::RunSchedulerOnce() {
  auto applied = co_await store_.ApplyDue(clock_.Now(), options_.scheduler_batch);
  if (!applied.ok()) {
    spdlog::warn("orders: scheduler batch not applied: {}", applied.error().message);
    co_return 0;
  }
  co_return *applied;
}

Result<OrderPage> OrdersService::ListForAdmin(AdminOrderQuery query) {
  if (query.limit < 1 || query.limit > kMaxOrdersPage) {
    return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
  }
  const std::size_t limit = query.limit;
  query.limit = limit + 1;
  OrderPage page;
  page.items = store_.ListForAdmin(query);
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_before_id = page.items.back().id;
  }
  page.total = store_.CountForAdmin(query);
  return page;
}

Result<Order> OrdersService::GetForAdmin(std::int64_t order_id) {
  auto order = store_.Find(order_id);
  if (!order) return MakeError(Errc::kNotFound, "no such order");
  return std::move(*order);
}

boost::asio::awaitable<Result<Order>> OrdersService::Advance(std::int64_t order_id,
                                                             std::string reason,
                                                             std::int64_t actor_id) {
  if (auto st = ValidateReason(reason); !st.ok()) co_return st.error();
  co_return co_await store_.Advance(order_id, std::move(reason), actor_id, clock_.Now());
}

boost::asio::awaitable<Result<Order>> OrdersService::SetHold(std::int64_t order_id, bool hold,
                                                             std::string reason,
                                                             std::int64_t actor_id) {
  if (auto st = ValidateReason(reason); !st.ok()) co_return st.error();
  co_return co_await store_.SetHold(order_id, hold, std::move(reason), actor_id, clock_.Now());
}

Result<SaleSummary> OrdersService::Summary(std::int64_t product_id) {
  SaleSummary s;
  s.product_id = product_id;
  if (figures_) s.checkout = figures_->Figures(product_id);
  s.orders = store_.TallyForProduct(product_id);
  if (!s.checkout && s.orders.empty()) return MakeError(Errc::kNotFound, "no such product");
  return s;
}

}  // namespace rocketmart::orders

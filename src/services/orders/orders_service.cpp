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

Result<Order> OrdersService::GetForMember(std::int64_t member_id, std::int64_t order_id) {
  auto order = store_.Find(order_id);
  if (!order || order->member_id != member_id) {
    return MakeError(Errc::kNotFound, "no such order");
  }
  return std::move(*order);
}

boost::asio::awaitable<Result<Order>> OrdersService::Cancel(std::int64_t member_id,
                                                            std::int64_t order_id) {
  co_return co_await store_.Cancel(order_id, member_id, clock_.Now());
}

boost::asio::awaitable<Result<Order>> OrdersService::RequestReturn(std::int64_t member_id,
                                                                   std::int64_t order_id) {
  co_return co_await store_.RequestReturn(order_id, member_id, clock_.Now());
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

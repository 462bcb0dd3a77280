#include "services/orders/clients/in_process/orders_client.hpp"

namespace rocketmart::orders {

boost::asio::awaitable<Result<std::vector<members::OrderSummary>>>
InProcessOrdersClient::RecentOrders(std::int64_t member_id, std::size_t limit,
                                    Deadline /*unused: no wait*/) {
  auto page = co_await orders_.ListForMember(member_id, 0, limit);
  if (!page.ok()) co_return page.error();
  std::vector<members::OrderSummary> out;
  for (const auto& o : page->items) {
    out.push_back({o.id, std::string(OrderStatusName(o.status)), o.total, o.created_at});
  }
  co_return out;
}

}  // namespace rocketmart::orders

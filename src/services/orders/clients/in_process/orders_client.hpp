// How members reach orders in one process: my page's recent orders, bound in-process to the
// orders service (members' OrdersClient port). Distributed, members call GET /order with the
// member's own bearer token instead (docs/orders.md, docs/ARCHITECTURE.md). It waits for no
// other process and ignores the request's deadline.
#pragma once

#include "services/members/ports/clients.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::orders {

class InProcessOrdersClient final : public members::OrdersClient {
 public:
  explicit InProcessOrdersClient(OrdersService& orders) : orders_(orders) {}
  boost::asio::awaitable<Result<std::vector<members::OrderSummary>>> RecentOrders(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  OrdersService& orders_;
};

}  // namespace rocketmart::orders

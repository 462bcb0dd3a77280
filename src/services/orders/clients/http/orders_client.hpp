// How members reach orders when the services run apart (issue 15): my page's recent orders over
// GET /order?limit=N, as the member (PeerCaller, infra/http/client/peer_call.hpp). The in-process
// binding is clients/in_process/orders_client.hpp. The call is bounded by the member's request's
// deadline, whose time left goes to orders as X-Request-Deadline-Ms. Thread-safe.
#pragma once

#include "infra/http/client/peer_call.hpp"
#include "services/members/ports/clients.hpp"

namespace rocketmart::orders {

class HttpOrdersClient final : public members::OrdersClient {
 public:
  explicit HttpOrdersClient(http::client::PeerCaller& orders) : orders_(orders) {}
  boost::asio::awaitable<Result<std::vector<members::OrderSummary>>> RecentOrders(
      std::int64_t member_id, std::size_t limit, Deadline deadline) override;

 private:
  http::client::PeerCaller& orders_;
};

}  // namespace rocketmart::orders

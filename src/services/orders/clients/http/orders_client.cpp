#include "services/orders/clients/http/orders_client.hpp"

#include <algorithm>
#include <string>

#include "infra/http/client/json_fields.hpp"

namespace rocketmart::orders {

namespace client = http::client;

namespace {
// GET /order takes a limit of 1 to 100 (kMaxOrdersPage).
constexpr std::size_t kMaxPage = 100;
}  // namespace

boost::asio::awaitable<Result<std::vector<members::OrderSummary>>> HttpOrdersClient::RecentOrders(
    std::int64_t member_id, std::size_t limit, Deadline deadline) {
  limit = std::clamp<std::size_t>(limit, 1, kMaxPage);
  const std::string target = "/order?limit=" + std::to_string(limit);
  const auth::Identity as = client::PeerCaller::Member(member_id);
  auto body = co_await orders_.GetJson(target, as, deadline);
  if (!body.ok()) co_return std::move(body).error();
  const boost::json::array* items = client::ArrayField(*body, "items");
  if (!items) co_return client::Unreadable("orders");
  std::vector<members::OrderSummary> out;
  for (const boost::json::value& item : *items) {
    if (!item.is_object()) co_return client::Unreadable("orders");
    const auto& o = item.as_object();
    const auto id = client::IntField(o, "id");
    auto status = client::StringField(o, "status");
    const auto total = client::IntField(o, "total");
    const auto created_at = client::TimeField(o, "createdAt");
    if (!id || !status || !total || !created_at) co_return client::Unreadable("orders");
    out.push_back({*id, std::move(*status), *total, *created_at});
  }
  co_return out;
}

}  // namespace rocketmart::orders

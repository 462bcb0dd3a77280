#include "services/orders/adapters/http_routes.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "core/time_format.hpp"

namespace rocketmart::orders {

using boost::asio::awaitable;
using http::Request;
using http::Response;

boost::json::object OrderJson(const Order& order, bool with_history) {
  boost::json::array lines;
  for (const OrderLine& l : order.lines) {
    lines.push_back({{"productId", l.product_id}, {"quantity", l.quantity}, {"price", l.price}});
  }
  boost::json::object o{{"id", order.id},
                        {"paymentId", order.payment_id},
                        {"status", OrderStatusName(order.status)},
                        {"total", order.total},
                        {"createdAt", FormatRfc3339(order.created_at)},
                        {"updatedAt", FormatRfc3339(order.updated_at)},
                        {"lines", std::move(lines)}};
  if (with_history) {
    boost::json::array history;
    for (const StatusChange& h : order.history) {
      history.push_back(
          {{"status", OrderStatusName(h.status)}, {"at", FormatRfc3339(h.at)}, {"cause", h.cause}});
    }
    o["history"] = std::move(history);
  }
  return o;
}

void RegisterRoutes(http::Router& router, OrdersService& orders) {
  const http::RouteOptions member{.access = http::Access::kMember};
  router.Add(http::Method::get, "/order", member, [&orders](Request& req) -> awaitable<Response> {
    std::size_t limit = 20;
    if (auto text = req.QueryParam("limit")) {
      auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
      if (ec != std::errc{} || p != text->data() + text->size()) {
        co_return http::ErrorResponse(
            MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit"));
      }
    }
    std::int64_t before = 0;
    if (auto cursor = req.QueryParam("cursor")) {
      auto [p, ec] = std::from_chars(cursor->data(), cursor->data() + cursor->size(), before);
      if (ec != std::errc{} || p != cursor->data() + cursor->size() || before <= 0) {
        co_return http::ErrorResponse(
            MakeError(Errc::kValidationFailed, "invalid cursor", "cursor"));
      }
    }
    auto page = orders.ListForMember(req.MemberId(), before, limit);
    if (!page.ok()) co_return http::ErrorResponse(page.error());
    boost::json::array items;
    for (const Order& o : page->items) items.push_back(OrderJson(o, false));
    boost::json::object body{{"items", std::move(items)}};
    body["nextCursor"] = page->next_before_id > 0
                             ? boost::json::value(std::to_string(page->next_before_id))
                             : boost::json::value(nullptr);
    co_return http::JsonResponse(http::Status::ok, body);
  });
  router.Add(http::Method::get, "/order/{id}", member,
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto order = orders.GetForMember(req.MemberId(), *id);
               if (!order.ok()) co_return http::ErrorResponse(order.error());
               co_return http::JsonResponse(http::Status::ok, OrderJson(*order, true));
             });
}

}  // namespace rocketmart::orders

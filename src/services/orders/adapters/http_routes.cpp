#include "services/orders/adapters/http_routes.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "core/time_format.hpp"
#include "infra/json/json.hpp"

namespace rocketmart::orders {

using boost::asio::awaitable;
using http::Request;
using http::Response;

namespace {

Result<std::size_t> ReadLimit(const Request& req) {
  std::size_t limit = 20;
  if (auto text = req.QueryParam("limit")) {
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc{} || p != text->data() + text->size()) {
      return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
    }
  }
  return limit;
}

// A positive integer query parameter; 0 when absent.
Result<std::int64_t> ReadPositive(const Request& req, std::string_view name,
                                  std::string_view message) {
  std::int64_t value = 0;
  if (auto text = req.QueryParam(name)) {
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc{} || p != text->data() + text->size() || value <= 0) {
      return MakeError(Errc::kValidationFailed, std::string(message), std::string(name));
    }
  }
  return value;
}

// `for_admin`: each item names its member.
Response PageResponse(const OrderPage& page, bool for_admin) {
  boost::json::array items;
  for (const Order& o : page.items) {
    boost::json::object item = OrderJson(o, false);
    if (for_admin) item["memberId"] = o.member_id;
    items.push_back(std::move(item));
  }
  boost::json::object body{{"items", std::move(items)}};
  body["total"] = page.total ? boost::json::value(*page.total) : boost::json::value(nullptr);
  body["nextCursor"] = page.next_before_id > 0
                           ? boost::json::value(std::to_string(page.next_before_id))
                           : boost::json::value(nullptr);
  return http::JsonResponse(http::Status::ok, body);
}

Result<std::string> ReadReason(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  auto reason = r.RequiredString("reason", {.min_chars = 1, .max_chars = kMaxReasonChars});
  if (auto st = r.Finish(); !st.ok()) return st.error();
  return std::move(*reason);
}

boost::json::object TallyJson(const StatusTally& t) {
  return {{"orders", t.orders}, {"units", t.units}, {"amount", t.amount}};
}

boost::json::object SummaryJson(const SaleSummary& s) {
  boost::json::object by_status;
  for (const auto& [status, tally] : s.orders) {
    by_status[OrderStatusName(status)] = TallyJson(tally);
  }
  auto tally = [&s](OrderStatus st) {
    auto it = s.orders.find(st);
    return it == s.orders.end() ? StatusTally{} : it->second;
  };
  boost::json::object o{{"productId", s.product_id}, {"ordersByStatus", std::move(by_status)}};
  o["cancelled"] = TallyJson(tally(OrderStatus::kCancelled));
  o["returned"] = TallyJson(tally(OrderStatus::kReturned));
  if (s.checkout) {
    o["available"] = s.checkout->available;
    o["held"] = s.checkout->held;
    o["sold"] = s.checkout->sold;
    o["refunded"] = boost::json::object{{"units", s.checkout->refunded_units},
                                        {"amount", s.checkout->refunded_amount}};
    o["revenue"] = s.checkout->revenue;
  } else {
    o["available"] = nullptr;
    o["held"] = nullptr;
    o["sold"] = nullptr;
    o["refunded"] = nullptr;
    o["revenue"] = nullptr;
  }
  return o;
}

}  // namespace

boost::json::object OrderJson(const Order& order, bool with_history, bool for_admin) {
  boost::json::array lines;
  for (const OrderLine& l : order.lines) {
    lines.push_back({{"productId", l.product_id},
                     {"name", l.name},
                     {"quantity", l.quantity},
                     {"price", l.price}});
  }
  boost::json::object o{{"id", order.id},
                        {"paymentId", order.payment_id},
                        {"status", OrderStatusName(order.status)},
                        {"total", order.total},
                        {"createdAt", FormatRfc3339(order.created_at)},
                        {"updatedAt", FormatRfc3339(order.updated_at)},
                        {"onHold", order.on_hold},
                        {"lines", std::move(lines)}};
  if (order.delivered_at) o["deliveredAt"] = FormatRfc3339(*order.delivered_at);
  if (const auto refund = RefundOf(order)) {
    o["refund"] =
        boost::json::object{{"status", RefundStatusName(refund->status)},
                            {"amount", refund->amount},
                            {"at", refund->at ? boost::json::value(FormatRfc3339(*refund->at))
                                              : boost::json::value(nullptr)}};
  }
  if (with_history) {
    boost::json::array history;
    for (const StatusChange& h : order.history) {
      boost::json::object entry{{"status", OrderStatusName(h.status)},
                                {"at", FormatRfc3339(h.at)},
                                {"cause", h.cause},
                                {"kind", h.kind}};
      if (for_admin) {
        entry["actorId"] =
            h.actor_id ? boost::json::value(h.actor_id) : boost::json::value(nullptr);
      }
      history.push_back(std::move(entry));
    }
    o["history"] = std::move(history);
    o["next"] =
        order.next
            ? boost::json::value(boost::json::object{{"status", OrderStatusName(order.next->to)},
                                                     {"dueAt", FormatRfc3339(order.next->due_at)}})
            : boost::json::value(nullptr);
  }
  return o;
}

namespace {

// An order as the operators' views show it: history with actors, and whose order it is.
Response AdminOrderResponse(const Order& order) {
  boost::json::object body = OrderJson(order, true, true);
  body["memberId"] = order.member_id;
  return http::JsonResponse(http::Status::ok, body);
}

bool IsAdmin(const Request& req) {
  return req.identity && req.identity->role == auth::Role::kAdmin;
}

}  // namespace

void RegisterRoutes(http::Router& router, OrdersService& orders) {
  const http::RouteOptions member{.access = http::Access::kMember};
  const http::RouteOptions admin{.access = http::Access::kAdmin};
  router.Add(http::Method::get, "/order",
             {.access = http::Access::kMember, .query = {"limit", "cursor"}},
             [&orders](Request& req) -> awaitable<Response> {
               auto limit = ReadLimit(req);
               if (!limit.ok()) co_return http::ErrorResponse(limit.error());
               auto before = ReadPositive(req, "cursor", "invalid cursor");
               if (!before.ok()) co_return http::ErrorResponse(before.error());
               auto page = co_await orders.ListForMember(req.MemberId(), *before, *limit);
               if (!page.ok()) co_return http::ErrorResponse(page.error());
               co_return PageResponse(*page, false);
             });
  router.Add(
      http::Method::get, "/order/{id}", member, [&orders](Request& req) -> awaitable<Response> {
        auto id = req.IdParam("id");
        if (!id.ok()) co_return http::ErrorResponse(id.error());
        auto order = co_await orders.GetForMember(req.MemberId(), *id, req.deadline);
        if (!order.ok()) co_return http::ErrorResponse(order.error());
        co_return http::JsonResponse(http::Status::ok, OrderJson(*order, true, IsAdmin(req)));
      });
  router.Add(http::Method::delete_, "/order/{id}", member,
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto order = co_await orders.Cancel(req.MemberId(), *id, req.deadline);
               if (!order.ok()) co_return http::ErrorResponse(order.error());
               co_return http::JsonResponse(http::Status::ok, OrderJson(*order, true));
             });
  router.Add(http::Method::post, "/order/return/{id}",
             {.access = http::Access::kMember, .body = http::BodyRule::kNone},
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto order = co_await orders.RequestReturn(req.MemberId(), *id, req.deadline);
               if (!order.ok()) co_return http::ErrorResponse(order.error());
               co_return http::JsonResponse(http::Status::ok, OrderJson(*order, true));
             });

  // Operators.
  router.Add(http::Method::get, "/admin/orders",
             {.access = http::Access::kAdmin,
              .query = {"limit", "cursor", "productId", "status", "memberId"}},
             [&orders](Request& req) -> awaitable<Response> {
               AdminOrderQuery query;
               auto limit = ReadLimit(req);
               if (!limit.ok()) co_return http::ErrorResponse(limit.error());
               query.limit = *limit;
               auto before = ReadPositive(req, "cursor", "invalid cursor");
               if (!before.ok()) co_return http::ErrorResponse(before.error());
               query.before_id = *before;
               auto product = ReadPositive(req, "productId", "invalid productId");
               if (!product.ok()) co_return http::ErrorResponse(product.error());
               if (*product > 0) query.product_id = *product;
               auto member = ReadPositive(req, "memberId", "invalid memberId");
               if (!member.ok()) co_return http::ErrorResponse(member.error());
               if (*member > 0) query.member_id = *member;
               if (auto status = req.QueryParam("status")) {
                 query.status = ParseOrderStatus(*status);
                 if (!query.status) {
                   co_return http::ErrorResponse(
                       MakeError(Errc::kValidationFailed, "unknown status", "status"));
                 }
               }
               auto page = co_await orders.ListForAdmin(std::move(query));
               if (!page.ok()) co_return http::ErrorResponse(page.error());
               co_return PageResponse(*page, true);
             });
  router.Add(http::Method::get, "/admin/orders/{id}", admin,
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto order = co_await orders.GetForAdmin(*id);
               if (!order.ok()) co_return http::ErrorResponse(order.error());
               co_return AdminOrderResponse(*order);
             });
  router.Add(http::Method::get, "/admin/sales/{productId}/summary", admin,
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto summary = co_await orders.Summary(*id, req.deadline);
               if (!summary.ok()) co_return http::ErrorResponse(summary.error());
               co_return http::JsonResponse(http::Status::ok, SummaryJson(*summary));
             });
  router.Add(http::Method::post, "/admin/orders/{id}/advance", admin,
             [&orders](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto reason = ReadReason(req.Body());
               if (!reason.ok()) co_return http::ErrorResponse(reason.error());
               auto order = co_await orders.Advance(*id, std::move(*reason), req.MemberId());
               if (!order.ok()) co_return http::ErrorResponse(order.error());
               co_return AdminOrderResponse(*order);
             });
  for (const bool hold : {true, false}) {
    router.Add(http::Method::post, hold ? "/admin/orders/{id}/hold" : "/admin/orders/{id}/release",
               admin, [&orders, hold](Request& req) -> awaitable<Response> {
                 auto id = req.IdParam("id");
                 if (!id.ok()) co_return http::ErrorResponse(id.error());
                 auto reason = ReadReason(req.Body());
                 if (!reason.ok()) co_return http::ErrorResponse(reason.error());
                 auto order =
                     co_await orders.SetHold(*id, hold, std::move(*reason), req.MemberId());
                 if (!order.ok()) co_return http::ErrorResponse(order.error());
                 co_return AdminOrderResponse(*order);
               });
  }
}

}  // namespace rocketmart::orders

#include "services/orders/api/events.hpp"

#include <boost/json.hpp>

#include "infra/json/json.hpp"

namespace rocketmart::orders::api {
namespace {

using json::FieldReader;

constexpr json::IntBounds kId{1, INT64_MAX};
constexpr json::IntBounds kAmount{0, INT64_MAX};

}  // namespace

std::string Encode(const OrderReversed& event) {
  boost::json::array lines;
  lines.reserve(event.lines.size());
  for (const OrderReversedLine& l : event.lines) {
    lines.push_back(boost::json::object{
        {"productId", l.product_id}, {"quantity", l.quantity}, {"price", l.price}});
  }
  boost::json::object o;
  o["v"] = kOrderReversedVersion;
  o["orderId"] = event.order_id;
  o["paymentId"] = event.payment_id;
  o["memberId"] = event.member_id;
  o["total"] = event.total;
  o["status"] = event.status;
  o["lines"] = std::move(lines);
  return boost::json::serialize(o);
}

Result<OrderReversed> DecodeOrderReversed(std::string_view payload) {
  // Braced initialisers run left to right: the first bad field is the one reported.
  return json::ReadDocument<OrderReversed>(payload, [](FieldReader& r) {
    r.SchemaVersion("v", kOrderReversedVersion);
    return OrderReversed{r.RequiredInt("orderId", kId).value_or(0),
                         r.RequiredInt("paymentId", kId).value_or(0),
                         r.RequiredInt("memberId", kId).value_or(0),
                         r.RequiredInt("total", kAmount).value_or(0),
                         r.RequiredString("status", {.min_chars = 1, .max_chars = 32}).value_or(""),
                         r.RequiredObjects<OrderReversedLine>("lines", [](FieldReader& l) {
                           return OrderReversedLine{l.RequiredInt("productId", kId).value_or(0),
                                                    l.RequiredInt("quantity", kId).value_or(0),
                                                    l.RequiredInt("price", kAmount).value_or(0)};
                         })};
  });
}

}  // namespace rocketmart::orders::api

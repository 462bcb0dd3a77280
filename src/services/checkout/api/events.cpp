#include "services/checkout/api/events.hpp"

#include <boost/json.hpp>

#include "infra/json/json.hpp"

namespace rocketmart::checkout::api {
namespace {

using json::FieldReader;

constexpr json::IntBounds kId{1, INT64_MAX};
constexpr json::IntBounds kAmount{0, INT64_MAX};
constexpr json::IntBounds kAny{INT64_MIN, INT64_MAX};
// Names are the catalog's; their length is the catalog's business, not this decoder's.
constexpr json::StringBounds kName{.min_chars = 0, .max_chars = SIZE_MAX, .single_line = false};

}  // namespace

std::string Encode(const OrderPaid& event) {
  boost::json::array lines;
  lines.reserve(event.lines.size());
  for (const OrderPaidLine& l : event.lines) {
    lines.push_back(boost::json::object{{"productId", l.product_id},
                                        {"quantity", l.quantity},
                                        {"price", l.price},
                                        {"name", l.name}});
  }
  boost::json::object o;
  o["v"] = kOrderPaidVersion;
  o["orderId"] = event.order_id;
  o["paymentId"] = event.payment_id;
  o["holdId"] = event.hold_id;
  o["memberId"] = event.member_id;
  o["total"] = event.total;
  o["lines"] = std::move(lines);
  o["paidAtMs"] = ToUnixMillis(event.paid_at);
  return boost::json::serialize(o);
}

Result<OrderPaid> DecodeOrderPaid(std::string_view payload) {
  // Braced initialisers run left to right: the first bad field is the one reported.
  return json::ReadDocument<OrderPaid>(payload, [](FieldReader& r) {
    r.SchemaVersion("v", kOrderPaidVersion);
    return OrderPaid{r.RequiredInt("orderId", kId).value_or(0),
                     r.RequiredInt("paymentId", kId).value_or(0),
                     r.RequiredInt("holdId", kId).value_or(0),
                     r.RequiredInt("memberId", kId).value_or(0),
                     r.RequiredInt("total", kAmount).value_or(0),
                     r.RequiredObjects<OrderPaidLine>(
                         "lines",
                         [](FieldReader& l) {
                           return OrderPaidLine{l.RequiredInt("productId", kId).value_or(0),
                                                l.RequiredInt("quantity", kId).value_or(0),
                                                l.RequiredInt("price", kAmount).value_or(0),
                                                l.OptionalString("name", kName).value_or("")};
                         }),
                     FromUnixMillis(r.RequiredInt("paidAtMs", kAny).value_or(0))};
  });
}

std::string Encode(const PaymentRefunded& event) {
  boost::json::object o;
  o["v"] = kPaymentRefundedVersion;
  o["orderId"] = event.order_id;
  o["paymentId"] = event.payment_id;
  o["memberId"] = event.member_id;
  o["amount"] = event.amount;
  o["refundedAtMs"] = ToUnixMillis(event.refunded_at);
  return boost::json::serialize(o);
}

Result<PaymentRefunded> DecodePaymentRefunded(std::string_view payload) {
  return json::ReadDocument<PaymentRefunded>(payload, [](FieldReader& r) {
    r.SchemaVersion("v", kPaymentRefundedVersion);
    return PaymentRefunded{
        r.RequiredInt("orderId", kId).value_or(0), r.RequiredInt("paymentId", kId).value_or(0),
        r.RequiredInt("memberId", kId).value_or(0), r.RequiredInt("amount", kAmount).value_or(0),
        FromUnixMillis(r.RequiredInt("refundedAtMs", kAny).value_or(0))};
  });
}

std::string Encode(const SaleChanged& event) {
  boost::json::object o;
  o["v"] = kSaleChangedVersion;
  o["productId"] = event.product_id;
  o["startsAtMs"] = ToUnixMillis(event.starts_at);
  o["endsAtMs"] = ToUnixMillis(event.ends_at);
  o["perMemberLimit"] = event.per_member_limit;
  o["version"] = event.version;
  o["changedAtMs"] = ToUnixMillis(event.changed_at);
  return boost::json::serialize(o);
}

Result<SaleChanged> DecodeSaleChanged(std::string_view payload) {
  return json::ReadDocument<SaleChanged>(payload, [](FieldReader& r) {
    r.SchemaVersion("v", kSaleChangedVersion);
    return SaleChanged{r.RequiredInt("productId", kId).value_or(0),
                       FromUnixMillis(r.RequiredInt("startsAtMs", kAny).value_or(0)),
                       FromUnixMillis(r.RequiredInt("endsAtMs", kAny).value_or(0)),
                       r.RequiredInt("perMemberLimit", kId).value_or(0),
                       r.RequiredInt("version", kId).value_or(0),
                       FromUnixMillis(r.RequiredInt("changedAtMs", kAny).value_or(0))};
  });
}

}  // namespace rocketmart::checkout::api

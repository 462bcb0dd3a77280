#include "services/checkout/clients/http/clients.hpp"

#include <boost/json/serialize.hpp>
#include <string>

#include "infra/http/client/json_fields.hpp"
#include "infra/http/idempotency_key.hpp"

namespace rocketmart::checkout {

namespace client = http::client;
using client::ArrayField;
using client::IntField;
using client::TimeField;
using client::Unreadable;

namespace {

// The availability route takes at most this many ids a call (checkout's kMaxAvailabilityIds).
constexpr std::size_t kIdsPerCall = 100;

}  // namespace

boost::asio::awaitable<Result<std::vector<catalog::ProductAvailability>>>
HttpAvailability::Availability(std::span<const std::int64_t> product_ids, Deadline deadline) {
  std::vector<catalog::ProductAvailability> out;
  out.reserve(product_ids.size());
  for (std::size_t from = 0; from < product_ids.size(); from += kIdsPerCall) {
    const auto chunk = product_ids.subspan(from, std::min(kIdsPerCall, product_ids.size() - from));
    std::string target = "/payment/availability?ids=";
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      if (i > 0) target += ',';
      target += std::to_string(chunk[i]);
    }
    const auth::Identity as = client::PeerCaller::Service();
    auto body = co_await checkout_.GetJson(target, as, deadline);
    if (!body.ok()) co_return std::move(body).error();
    const boost::json::array* items = ArrayField(*body, "items");
    if (!items || items->size() != chunk.size()) co_return Unreadable("an availability");
    for (const boost::json::value& item : *items) {
      if (!item.is_object()) co_return Unreadable("an availability");
      const auto& o = item.as_object();
      catalog::ProductAvailability& a = out.emplace_back();
      a.stock = IntField(o, "stock");
      if (const auto* sale = o.if_contains("sale"); sale && sale->is_object()) {
        const auto starts = TimeField(sale->as_object(), "startsAt");
        const auto ends = TimeField(sale->as_object(), "endsAt");
        const auto limit = IntField(sale->as_object(), "perMemberLimit");
        if (!starts || !ends || !limit) co_return Unreadable("a sale");
        a.sale = catalog::SaleInfo{*starts, *ends, *limit};
      }
    }
  }
  co_return out;
}

boost::asio::awaitable<catalog::CheckoutAnswer> HttpCheckoutClient::Purchase(
    std::int64_t member_id, bool email_verified, std::vector<catalog::CheckoutLine> lines,
    std::optional<catalog::CheckoutKey> key, Deadline start_by) {
  boost::json::array json_lines;
  for (const auto& line : lines) {
    json_lines.push_back({{"productId", line.product_id}, {"quantity", line.quantity}});
  }
  client::CallRequest request{
      .method = client::Method::post,
      .target = "/payment/purchases",
      .body = boost::json::serialize(boost::json::object{{"lines", std::move(json_lines)}}),
      .deadline = start_by};
  // Checkout would fingerprint the body it receives; a retry with the cart's key replays the
  // first answer because the fingerprint sent is the cart checkout's, whatever lines are left.
  if (key) {
    request.headers.emplace_back("Idempotency-Key", key->key);
    // The cart's fingerprint, not this body's: a retry's cart may be empty already.
    request.headers.emplace_back(std::string(http::kVouchedFingerprintHeader), key->fingerprint);
  }
  const auth::Identity as = client::PeerCaller::Member(member_id, email_verified);
  auto reply = co_await checkout_.Call(std::move(request), as);
  if (!reply.ok()) co_return catalog::CheckoutAnswer{std::move(reply).error(), false};
  const bool replayed = reply->response["Idempotent-Replayed"] == "true";
  auto body = client::JsonOfReply(*reply);
  if (!body.ok()) co_return catalog::CheckoutAnswer{std::move(body).error(), replayed};
  catalog::CheckoutReceipt receipt;
  const auto order_id = IntField(*body, "orderId");
  const auto payment_id = IntField(*body, "paymentId");
  const auto total = IntField(*body, "total");
  const auto paid_at = TimeField(*body, "paidAt");
  const boost::json::array* paid_lines = ArrayField(*body, "lines");
  if (!order_id || !payment_id || !total || !paid_at || !paid_lines) {
    co_return catalog::CheckoutAnswer{Unreadable("a purchase"), replayed};
  }
  receipt.order_id = *order_id;
  receipt.payment_id = *payment_id;
  receipt.total = *total;
  receipt.paid_at = *paid_at;
  for (const boost::json::value& line : *paid_lines) {
    if (!line.is_object()) co_return catalog::CheckoutAnswer{Unreadable("a purchase"), replayed};
    const auto product = IntField(line.as_object(), "productId");
    const auto quantity = IntField(line.as_object(), "quantity");
    if (!product || !quantity) {
      co_return catalog::CheckoutAnswer{Unreadable("a purchase"), replayed};
    }
    receipt.lines.push_back({*product, *quantity});
  }
  co_return catalog::CheckoutAnswer{std::move(receipt), replayed};
}

boost::asio::awaitable<Result<std::optional<orders::PaidOrderEvent>>> HttpPaymentsClient::PaidOrder(
    std::int64_t order_id, Deadline deadline) {
  const std::string target = "/payment/purchases/" + std::to_string(order_id);
  const auth::Identity as = client::PeerCaller::Service();
  auto found = co_await checkout_.FindJson(target, as, deadline);
  if (!found.ok()) co_return std::move(found).error();
  if (!*found) co_return std::optional<orders::PaidOrderEvent>{};
  const boost::json::object* body = &**found;
  orders::PaidOrderEvent out;
  const auto payment_id = IntField(*body, "paymentId");
  const auto member_id = IntField(*body, "memberId");
  const auto total = IntField(*body, "total");
  const auto paid_at = TimeField(*body, "paidAt");
  const boost::json::array* lines = ArrayField(*body, "lines");
  if (!payment_id || !member_id || !total || !paid_at || !lines) {
    co_return Unreadable("a paid purchase");
  }
  out.order_id = IntField(*body, "orderId").value_or(*payment_id);
  out.payment_id = *payment_id;
  out.member_id = *member_id;
  out.total = *total;
  out.paid_at = *paid_at;
  for (const boost::json::value& line : *lines) {
    if (!line.is_object()) co_return Unreadable("a paid purchase");
    const auto& l = line.as_object();
    const auto product = IntField(l, "productId");
    const auto quantity = IntField(l, "quantity");
    const auto price = IntField(l, "price");
    if (!product || !quantity || !price) co_return Unreadable("a paid purchase");
    out.lines.push_back(
        {*product, *quantity, *price, client::StringField(l, "name").value_or(std::string())});
  }
  co_return std::optional<orders::PaidOrderEvent>{std::move(out)};
}

boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> HttpSaleFigures::Figures(
    std::int64_t product_id, Deadline deadline) {
  const std::string target = "/payment/" + std::to_string(product_id) + "/figures";
  const auth::Identity as = client::PeerCaller::Service();
  auto found = co_await checkout_.FindJson(target, as, deadline);
  if (!found.ok()) co_return std::move(found).error();
  if (!*found) co_return std::optional<orders::SaleFigures>{};
  const boost::json::object* body = &**found;
  const auto available = IntField(*body, "available");
  const auto held = IntField(*body, "held");
  const auto sold = IntField(*body, "sold");
  const auto refunded_units = IntField(*body, "refundedUnits");
  const auto revenue = IntField(*body, "revenue");
  const auto refunded_amount = IntField(*body, "refundedAmount");
  if (!available || !held || !sold || !refunded_units || !revenue || !refunded_amount) {
    co_return Unreadable("sale figures");
  }
  co_return std::optional<orders::SaleFigures>{
      orders::SaleFigures{*available, *held, *sold, *refunded_units, *revenue, *refunded_amount}};
}

}  // namespace rocketmart::checkout

#include "services/catalog/adapters/cart_checkout.hpp"

#include <boost/json.hpp>

#include "infra/async/run.hpp"
#include "infra/http/error_mapping.hpp"
#include "infra/http/idempotency_key.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::catalog {

using boost::asio::awaitable;
using http::Request;
using http::Response;

namespace {

// The error body with the order that took the cart: {"error":{..., "details":{"orderId":N}}}.
Response AlreadyCheckedOut(const Error& error, std::int64_t order_id) {
  boost::json::object inner{{"code", ErrcName(error.code)},
                            {"message", error.message},
                            {"details", boost::json::object{{"orderId", order_id}}}};
  return http::JsonResponse(http::StatusFor(error.code),
                            boost::json::object{{"error", std::move(inner)}});
}

}  // namespace

void RegisterCartCheckoutRoute(http::Router& router, ShoppingService& shopping) {
  router.Add(
      http::Method::post, "/cart/checkout",
      {.access = http::Access::kMember, .body = http::BodyRule::kNone},
      [&shopping](Request& req) -> awaitable<Response> {
        auto header = http::ReadIdempotencyKey(req);
        if (!header.ok()) co_return http::ErrorResponse(header.error());
        std::optional<std::string> key;
        if (*header) key = std::move((*header)->key);
        const bool verified = req.identity->email_verified;
        auto outcome =
            co_await shopping.CheckoutCart(req.MemberId(), verified, std::move(key), req.deadline);
        const CheckoutAnswer& answer = outcome.answer;
        Response res =
            answer.result.ok()
                ? http::JsonResponse(http::Status::created,
                                     boost::json::object{{"orderId", answer.result->order_id},
                                                         {"paymentId", answer.result->payment_id},
                                                         {"status", "PAID"},
                                                         {"total", answer.result->total}})
            : outcome.checked_out_order
                ? AlreadyCheckedOut(answer.result.error(), *outcome.checked_out_order)
                : http::ErrorResponse(answer.result.error());
        if (answer.replayed) res.set("Idempotent-Replayed", "true");
        co_return res;
      });
}

void PaidCartSubscriber::Handle(std::span<const events::Event> batch) {
  // One transaction for the whole batch: a commit per event made the catalog's database the
  // slowest part of a drop (one fsync per paid order). Decoded first: a malformed event is set
  // aside before anything was removed, and the rest of the batch is delivered again.
  std::vector<PurchasedLines> orders;
  orders.reserve(batch.size());
  for (const events::Event& event : batch) {
    const auto paid =
        events::DecodedOrSetAside(event, checkout::api::DecodeOrderPaid(event.payload));
    PurchasedLines order;
    order.member_id = paid.member_id;
    order.paid_at = paid.paid_at;
    order.product_ids.reserve(paid.lines.size());
    for (const auto& line : paid.lines) order.product_ids.push_back(line.product_id);
    orders.push_back(std::move(order));
  }
  auto removed = async::RunToCompletion(shopping_.RemovePurchasedLines(std::move(orders)));
  // Throwing makes the bus retry the batch later (a full writer queue, for instance).
  if (!removed.ok()) throw std::runtime_error("cart cleanup failed: " + removed.error().message);
}

}  // namespace rocketmart::catalog

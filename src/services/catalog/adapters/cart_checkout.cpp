#include "services/catalog/adapters/cart_checkout.hpp"

#include <boost/json.hpp>

#include "infra/async/run.hpp"
#include "infra/http/idempotency_key.hpp"

namespace rocketmart::catalog {

using boost::asio::awaitable;
using http::Request;
using http::Response;

void RegisterCartCheckoutRoute(http::Router& router, ShoppingService& shopping,
                               CheckoutClient& checkout) {
  router.Add(http::Method::post, "/cart/checkout",
             {.access = http::Access::kMember, .body = http::BodyRule::kNone},
             [&shopping, &checkout](Request& req) -> awaitable<Response> {
               auto header = http::ReadIdempotencyKey(req);
               if (!header.ok()) co_return http::ErrorResponse(header.error());
               std::optional<CheckoutKey> key;
               if (*header) key = CheckoutKey{(*header)->key, (*header)->fingerprint};
               std::vector<CheckoutLine> lines;
               for (const BasketLine& line : shopping.Cart(req.MemberId()).items) {
                 lines.push_back({line.product_id, line.quantity});
               }
               if (lines.empty() && !key) {
                 co_return http::ErrorResponse(MakeError(Errc::kConflict, "the cart is empty"));
               }
               const bool verified = req.identity->email_verified;
               auto answer = co_await checkout.Purchase(req.MemberId(), verified, std::move(lines),
                                                        std::move(key), req.deadline);
               Response res = answer.result.ok()
                                  ? http::JsonResponse(http::Status::created,
                                                       boost::json::object{
                                                           {"orderId", answer.result->order_id},
                                                           {"paymentId", answer.result->payment_id},
                                                           {"status", "PAID"},
                                                           {"total", answer.result->total}})
                                  : http::ErrorResponse(answer.result.error());
               if (answer.replayed) res.set("Idempotent-Replayed", "true");
               co_return res;
             });
}

void PaidCartSubscriber::Handle(std::span<const storage::Event> batch) {
  // One transaction for the whole batch: a commit per event made the catalog's database the
  // slowest part of a drop (one fsync per paid order).
  std::vector<PurchasedLines> orders;
  orders.reserve(batch.size());
  for (const storage::Event& event : batch) {
    try {
      const boost::json::value v = boost::json::parse(event.payload);
      const auto& o = v.as_object();
      PurchasedLines order;
      order.member_id = o.at("memberId").to_number<std::int64_t>();
      order.paid_at = FromUnixMillis(o.at("paidAtMs").to_number<std::int64_t>());
      for (const auto& line : o.at("lines").as_array()) {
        order.product_ids.push_back(line.as_object().at("productId").to_number<std::int64_t>());
      }
      orders.push_back(std::move(order));
    } catch (const std::exception& e) {
      // Thrown before anything was removed: the rest of the batch is delivered again.
      throw storage::MalformedEvent(event.id, std::string("order.paid: ") + e.what());
    }
  }
  auto removed = async::RunToCompletion(shopping_.RemovePurchasedLines(std::move(orders)));
  // Throwing makes the relay retry the batch later (a full writer queue, for instance).
  if (!removed.ok()) throw std::runtime_error("cart cleanup failed: " + removed.error().message);
}

}  // namespace rocketmart::catalog

#include "services/checkout/adapters/http_routes.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "auth/internal_identity.hpp"
#include "core/time_format.hpp"
#include "infra/http/idempotency_key.hpp"
#include "infra/json/json.hpp"

namespace rocketmart::checkout {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;

// The Idempotency-Key header, if any, with the fingerprint of the request it protects.
Result<std::optional<IdempotencyRequest>> ReadIdempotency(const Request& req) {
  auto header = http::ReadIdempotencyKey(req);
  if (!header.ok()) return header.error();
  if (!*header) return std::optional<IdempotencyRequest>{};
  return std::optional<IdempotencyRequest>{
      IdempotencyRequest{std::move((*header)->key), std::move((*header)->fingerprint)}};
}

// The fingerprint the cart's CheckoutClient vouches for (X-Rocketmart-Idempotency-Fingerprint:
// 64 lowercase hex digits) in place of the body's: a retried cart checkout finds the cart emptied
// by its first attempt, so its body names no line, yet it is the same request. It only decides
// which of the member's own answers the member's own key replays, and the gateway strips every
// X-Rocketmart-* header a client sends.
Status ReadVouchedFingerprint(const Request& req, std::optional<IdempotencyRequest>& idem) {
  const std::string_view vouched = req.Header(http::kVouchedFingerprintHeader);
  if (vouched.empty()) return Ok();
  const bool hex = vouched.size() == 64 &&
                   vouched.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!hex || !idem) {
    return MakeError(Errc::kValidationFailed,
                     std::string(http::kVouchedFingerprintHeader) +
                         " must be 64 lowercase hex digits, beside an Idempotency-Key");
  }
  idem->request_hash = std::string(vouched);
  return Ok();
}

Result<PurchaseLine> ReadLine(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  auto product_id = r.RequiredInt("productId", {.min = 1, .max = INT64_MAX});
  auto amount = r.RequiredInt("amount", {.min = 1, .max = kMaxQuantityPerPurchase});
  if (auto st = r.Finish(); !st.ok()) return st.error();
  return PurchaseLine{*product_id, *amount};
}

// POST /payment/purchases: {"lines":[{"productId":1,"quantity":2},...]}, every object strict.
// The count of lines and a product named twice are the service's rules (ValidateLines).
// `keyed`: an empty list is passed on (the service answers a known key from its record first, so
// the retry of a cart checkout whose cart is gone replays; an unknown key gets the same refusal).
Result<std::vector<PurchaseLine>> ReadLines(std::string_view body, bool keyed) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  const boost::json::array* array = r.RequiredArray("lines");
  if (auto st = r.Finish(); !st.ok()) return st.error();
  if ((array->empty() && !keyed) || array->size() > kMaxLinesPerPurchase) {
    return MakeError(Errc::kValidationFailed,
                     "lines must hold 1 to " + std::to_string(kMaxLinesPerPurchase) + " lines",
                     "lines");
  }
  std::vector<PurchaseLine> lines;
  lines.reserve(array->size());
  for (const boost::json::value& element : *array) {
    if (!element.is_object()) {
      return MakeError(Errc::kValidationFailed, "lines must hold objects", "lines");
    }
    json::FieldReader l(element.as_object());
    auto product_id = l.RequiredInt("productId", {.min = 1, .max = INT64_MAX});
    auto quantity = l.RequiredInt("quantity", {.min = 1, .max = kMaxQuantityPerPurchase});
    if (auto st = l.Finish(); !st.ok()) return st.error();
    lines.push_back({*product_id, *quantity});
  }
  return lines;
}

Buyer BuyerOf(const Request& req) {
  return Buyer{req.identity->member_id, req.identity->email_verified};
}

Response WithReplayMark(Response res, bool replayed) {
  if (replayed) res.set("Idempotent-Replayed", "true");
  return res;
}

// A sold-out answer the gateway may repeat itself (Answer::shared_for, docs/adr/0048 and 0049):
// said only to a gateway (the request carries an internal identity), in whole milliseconds,
// rounded down.
template <class T>
Response WithShareMark(Response res, const Request& req, const Answer<T>& answer) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(answer.shared_for).count();
  if (ms > 0 && !req.Header(auth::kInternalIdentityHeader).empty()) {
    res.set(http::kSharedAnswerHeader, std::to_string(ms));
  }
  return res;
}

// The HTTP answer to a purchase or a hold: 201 with `to_json` of what it made, or its error
// (marked as everyone's for a gateway when it is, WithShareMark); a replay is marked as one.
template <class T, class ToJson>
Response AnswerOf(const Request& req, const Answer<T>& answer, ToJson to_json) {
  if (!answer.result.ok()) {
    return WithReplayMark(WithShareMark(http::ErrorResponse(answer.result.error()), req, answer),
                          answer.replayed);
  }
  return WithReplayMark(http::JsonResponse(http::Status::created, to_json(*answer.result)),
                        answer.replayed);
}

// A purchase or a hold of one product (POST /payment/request, /payment/holds): the
// Idempotency-Key and the line, then `operation` of the service, answered by AnswerOf.
template <class T>
using LinesOperation = awaitable<Answer<T>> (CheckoutService::*)(Buyer, std::vector<PurchaseLine>,
                                                                 std::optional<IdempotencyRequest>,
                                                                 Deadline);
template <class T, class ToJson>
awaitable<Response> OneProduct(CheckoutService& checkout, LinesOperation<T> operation, Request& req,
                               ToJson to_json) {
  auto idem = ReadIdempotency(req);
  if (!idem.ok()) co_return http::ErrorResponse(idem.error());
  auto line = ReadLine(req.Body());
  if (!line.ok()) co_return http::ErrorResponse(line.error());
  std::vector<PurchaseLine> lines{*line};
  auto answer = co_await (checkout.*operation)(BuyerOf(req), std::move(lines), std::move(*idem),
                                               req.deadline);
  co_return AnswerOf(req, answer, to_json);
}

boost::json::object PaidJson(const PaidOrder& paid) {
  return {{"orderId", paid.order_id}, {"paymentId", paid.payment_id}, {"status", "PAID"}};
}

// A multi-line purchase's answer: what the cart's CheckoutClient needs for its receipt.
boost::json::object PaidLinesJson(const PaidOrder& paid) {
  boost::json::array lines;
  for (const HoldLine& l : paid.lines) {
    lines.push_back({{"productId", l.product_id}, {"quantity", l.quantity}, {"price", l.price}});
  }
  boost::json::object out = PaidJson(paid);
  out["total"] = paid.total;
  out["paidAt"] = FormatRfc3339(paid.paid_at);
  out["lines"] = std::move(lines);
  return out;
}

boost::json::object HoldJson(const Hold& hold) {
  boost::json::array lines;
  for (const HoldLine& l : hold.lines) {
    lines.push_back({{"productId", l.product_id}, {"quantity", l.quantity}, {"price", l.price}});
  }
  return {{"holdId", hold.id},
          {"status", HoldStatusName(hold.status)},
          {"expiresAt", FormatRfc3339(hold.expires_at)},
          {"total", hold.total},
          {"lines", std::move(lines)}};
}

Result<Sale> ReadSale(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  auto starts = r.RequiredString("startsAt", {.min_chars = 1, .max_chars = 40});
  auto ends = r.RequiredString("endsAt", {.min_chars = 1, .max_chars = 40});
  auto limit = r.RequiredInt("perMemberLimit", {.min = 1, .max = kMaxPerMemberLimit});
  if (auto st = r.Finish(); !st.ok()) return st.error();
  auto starts_at = ParseRfc3339(*starts);
  if (!starts_at) {
    return MakeError(Errc::kValidationFailed, "startsAt must be an RFC 3339 timestamp", "startsAt");
  }
  auto ends_at = ParseRfc3339(*ends);
  if (!ends_at) {
    return MakeError(Errc::kValidationFailed, "endsAt must be an RFC 3339 timestamp", "endsAt");
  }
  return Sale{*starts_at, *ends_at, *limit};
}

// GET /payment/availability?ids=1,2,3: positive ids, comma-separated, 1 to kMaxAvailabilityIds.
Result<std::vector<std::int64_t>> ReadIds(const Request& req) {
  const auto raw = req.QueryParam("ids");
  auto invalid = [] {
    return MakeError(Errc::kValidationFailed,
                     "ids must be 1 to " + std::to_string(kMaxAvailabilityIds) +
                         " comma-separated positive integers",
                     "ids");
  };
  if (!raw || raw->empty()) return invalid();
  std::vector<std::int64_t> ids;
  std::string_view rest(*raw);
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || id < 1 ||
        ids.size() == kMaxAvailabilityIds) {
      return invalid();
    }
    ids.push_back(id);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return ids;
}

boost::json::object PurchaseJson(const PaidPurchase& p) {
  boost::json::array lines;
  for (const PaidLine& l : p.lines) {
    lines.push_back({{"productId", l.line.product_id},
                     {"quantity", l.line.quantity},
                     {"price", l.line.price},
                     {"name", l.name}});
  }
  return {{"paymentId", p.payment_id},
          {"orderId", p.payment_id},
          {"memberId", p.member_id},
          {"total", p.total},
          {"paidAt", FormatRfc3339(p.paid_at)},
          {"lines", std::move(lines)}};
}

}  // namespace

boost::json::object SaleJson(const SaleView& view) {
  return {{"productId", view.product_id},
          {"startsAt", FormatRfc3339(view.sale.starts_at)},
          {"endsAt", FormatRfc3339(view.sale.ends_at)},
          {"perMemberLimit", view.sale.per_member_limit},
          {"state", SaleStateName(view.state)}};
}

void RegisterRoutes(http::Router& router, CheckoutService& checkout) {
  const http::RouteOptions member{.access = http::Access::kMember,
                                  .max_body_bytes = kPurchaseBodyLimit};
  const http::RouteOptions admin{.access = http::Access::kAdmin,
                                 .max_body_bytes = kPurchaseBodyLimit};

  router.Add(
      http::Method::get, "/payment/{productId}/sale", {},
      [&checkout](Request& req) -> awaitable<Response> {
        auto id = req.IdParam("productId");
        if (!id.ok()) co_return http::ErrorResponse(id.error());
        auto view = checkout.GetSale(*id);
        if (!view)
          co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no sale for this product"));
        co_return http::JsonResponse(http::Status::ok, SaleJson(*view));
      });

  router.Add(http::Method::put, "/payment/{productId}/sale", admin,
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto sale = ReadSale(req.Body());
               if (!sale.ok()) co_return http::ErrorResponse(sale.error());
               auto view = co_await checkout.SetSale(*id, *sale, req.deadline);
               if (!view.ok()) co_return http::ErrorResponse(view.error());
               co_return http::JsonResponse(http::Status::ok, SaleJson(*view));
             });

  router.Add(http::Method::post, "/payment/{productId}/restock", admin,
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto object = json::ParseObject(req.Body());
               if (!object.ok()) co_return http::ErrorResponse(object.error());
               json::FieldReader r(*object);
               auto quantity = r.RequiredInt("quantity", {.min = 1, .max = kMaxRestock});
               if (auto st = r.Finish(); !st.ok()) co_return http::ErrorResponse(st.error());
               auto row = co_await checkout.Restock(*id, *quantity);
               if (!row.ok()) co_return http::ErrorResponse(row.error());
               co_return http::JsonResponse(http::Status::ok,
                                            boost::json::object{{"productId", row->product_id},
                                                                {"available", row->available},
                                                                {"held", row->held},
                                                                {"sold", row->sold},
                                                                {"restocked", row->restocked}});
             });

  router.Add(http::Method::post, "/payment/request", member,
             [&checkout](Request& req) -> awaitable<Response> {
               return OneProduct<PaidOrder>(checkout, &CheckoutService::Purchase, req,
                                            [](const PaidOrder& made) { return PaidJson(made); });
             });

  // Several products in one purchase: the route the cart's CheckoutClient calls when the services
  // run apart (in one process the in-process binding calls Purchase directly).
  router.Add(http::Method::post, "/payment/purchases", member,
             [&checkout](Request& req) -> awaitable<Response> {
               auto idem = ReadIdempotency(req);
               if (!idem.ok()) co_return http::ErrorResponse(idem.error());
               if (auto vouched = ReadVouchedFingerprint(req, *idem); !vouched.ok()) {
                 co_return http::ErrorResponse(vouched.error());
               }
               auto lines = ReadLines(req.Body(), idem->has_value());
               if (!lines.ok()) co_return http::ErrorResponse(lines.error());
               auto answer = co_await checkout.Purchase(BuyerOf(req), std::move(*lines),
                                                        std::move(*idem), req.deadline);
               co_return AnswerOf(req, answer,
                                  [](const auto& made) { return PaidLinesJson(made); });
             });

  router.Add(http::Method::post, "/payment/holds", member,
             [&checkout](Request& req) -> awaitable<Response> {
               return OneProduct<Hold>(checkout, &CheckoutService::CreateHold, req,
                                       [](const Hold& made) { return HoldJson(made); });
             });

  router.Add(http::Method::post, "/payment/holds/{id}/pay",
             {.access = http::Access::kMember, .body = http::BodyRule::kNone},
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto idem = ReadIdempotency(req);
               if (!idem.ok()) co_return http::ErrorResponse(idem.error());
               auto answer = co_await checkout.PayHold(BuyerOf(req), *id, std::move(*idem));
               if (!answer.result.ok()) {
                 co_return WithReplayMark(http::ErrorResponse(answer.result.error()),
                                          answer.replayed);
               }
               co_return WithReplayMark(
                   http::JsonResponse(http::Status::ok, PaidJson(*answer.result)), answer.replayed);
             });

  // The member's open holds: a client that lost a hold id finds it here (and pays or cancels it)
  // instead of being blocked by it until it expires.
  router.Add(http::Method::get, "/payment/holds",
             {.access = http::Access::kMember, .query = {"limit", "cursor"}},
             [&checkout](Request& req) -> awaitable<Response> {
               auto limit = req.IntQueryParam("limit", 1, kMaxHoldsPage, 20);
               if (!limit.ok()) co_return http::ErrorResponse(limit.error());
               auto before = req.IntQueryParam("cursor", 1, INT64_MAX, 0);
               if (!before.ok()) co_return http::ErrorResponse(before.error());
               auto found = co_await checkout.OpenHolds(req.MemberId(), *before,
                                                        static_cast<std::size_t>(*limit));
               if (!found.ok()) co_return http::ErrorResponse(found.error());
               const auto& page = *found;
               boost::json::array items;
               for (const Hold& hold : page.items) {
                 boost::json::object item = HoldJson(hold);
                 if (hold.lines.size() == 1) {  // as POST /payment/holds took it
                   item["productId"] = hold.lines[0].product_id;
                   item["amount"] = hold.lines[0].quantity;
                 }
                 items.push_back(std::move(item));
               }
               boost::json::object body{{"items", std::move(items)}, {"total", page.total}};
               body["nextCursor"] = page.next_before_id > 0
                                        ? boost::json::value(std::to_string(page.next_before_id))
                                        : boost::json::value(nullptr);
               co_return http::JsonResponse(http::Status::ok, body);
             });

  router.Add(http::Method::delete_, "/payment/holds/{id}", member,
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto st = co_await checkout.CancelHold(BuyerOf(req), *id);
               if (!st.ok()) co_return http::ErrorResponse(st.error());
               co_return http::NoContent();
             });

  // For other services (issue 12 point 5), documented in api/openapi.json as such.
  // The paid purchase behind a payment (= order) id: the orders service's read-your-writes before
  // order.paid arrives. The member's own or an admin's; anyone else's reads as unknown.
  router.Add(http::Method::get, "/payment/purchases/{paymentId}", {.access = http::Access::kMember},
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("paymentId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto found = co_await checkout.FindPaidPurchase(*id);
               if (!found.ok()) co_return http::ErrorResponse(found.error());
               const bool admin = req.identity->role == auth::Role::kAdmin;
               if (!*found || (!admin && (*found)->member_id != req.MemberId())) {
                 co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such payment"));
               }
               co_return http::JsonResponse(http::Status::ok, PurchaseJson(**found));
             });

  // The operator's per-sale figures (the orders service's admin summary reads them).
  router.Add(http::Method::get, "/payment/{productId}/figures", {.access = http::Access::kAdmin},
             [&checkout](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto figures = co_await checkout.SaleFigures(*id);
               if (!figures.ok()) co_return http::ErrorResponse(figures.error());
               if (!*figures) {
                 co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such product"));
               }
               const ProductSaleFigures& f = **figures;
               co_return http::JsonResponse(
                   http::Status::ok, boost::json::object{{"productId", *id},
                                                         {"available", f.available},
                                                         {"held", f.held},
                                                         {"sold", f.sold},
                                                         {"refundedUnits", f.refunded_units},
                                                         {"revenue", f.revenue},
                                                         {"refundedAmount", f.refunded_amount}});
             });

  // Live stock and sale per product (the catalog's availability), public like the catalog's pages
  // that show it. From memory, no I/O.
  router.Add(
      http::Method::get, "/payment/availability", {.query = {"ids"}},
      [&checkout](Request& req) -> awaitable<Response> {
        auto ids = ReadIds(req);
        if (!ids.ok()) co_return http::ErrorResponse(ids.error());
        boost::json::array items;
        for (const std::int64_t id : *ids) {
          const auto stock = checkout.Available(id);
          const auto sale = checkout.GetSale(id);
          items.push_back(
              {{"productId", id},
               {"stock", stock ? boost::json::value(*stock) : boost::json::value(nullptr)},
               {"sale", sale ? boost::json::value(SaleJson(*sale)) : boost::json::value(nullptr)}});
        }
        co_return http::JsonResponse(http::Status::ok,
                                     boost::json::object{{"items", std::move(items)}});
      });
}

}  // namespace rocketmart::checkout

#include "services/catalog/adapters/http_routes.hpp"

#include <boost/json.hpp>
#include <charconv>

#include "core/time_format.hpp"
#include "infra/json/json.hpp"

namespace rocketmart::catalog {
namespace {

using boost::asio::awaitable;
using http::Request;
using http::Response;

constexpr json::StringBounds kNameBounds{.min_chars = 1, .max_chars = kNameMaxChars};
constexpr json::StringBounds kDescriptionBounds{
    .min_chars = 0, .max_chars = kDescriptionMaxChars, .single_line = false};
constexpr json::StringBounds kImageUrlBounds{.min_chars = 0, .max_chars = kImageUrlMaxChars};
constexpr json::IntBounds kPriceBounds{.min = 0, .max = kPriceMax};
constexpr json::IntBounds kStockBounds{.min = 0, .max = kStockMax};
constexpr std::size_t kDefaultLikesPage = 20;

Result<ProductDraft> ParseDraft(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  ProductDraft draft;
  auto name = r.RequiredString("name", kNameBounds);
  auto description = r.OptionalString("description", kDescriptionBounds);
  auto price = r.RequiredInt("price", kPriceBounds);
  auto image_url = r.OptionalString("imageUrl", kImageUrlBounds);
  auto stock = r.RequiredInt("stock", kStockBounds);
  if (auto st = r.Finish(); !st.ok()) return st.error();
  draft.name = std::move(*name);
  draft.description = description.value_or("");
  draft.price = *price;
  draft.image_url = image_url.value_or("");
  draft.stock = *stock;
  return draft;
}

Result<ProductChanges> ParseChanges(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  if (object->contains("stock")) {
    return MakeError(Errc::kValidationFailed,
                     "stock cannot be set here: use POST /payment/{productId}/restock", "stock");
  }
  json::FieldReader r(*object);
  ProductChanges changes;
  changes.name = r.OptionalString("name", kNameBounds);
  changes.description = r.OptionalString("description", kDescriptionBounds);
  changes.price = r.OptionalInt("price", kPriceBounds);
  changes.image_url = r.OptionalString("imageUrl", kImageUrlBounds);
  if (auto st = r.Finish(); !st.ok()) return st.error();
  return changes;
}

// `limit=` 1..kMaxPageSize, `fallback` when absent.
Result<std::size_t> ParseLimit(const Request& req, std::size_t fallback) {
  auto limit = req.QueryParam("limit");
  if (!limit) return fallback;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
  if (ec != std::errc{} || p != limit->data() + limit->size() || n < 1 || n > kMaxPageSize) {
    return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
  }
  return n;
}

Result<ListQuery> ParseListQuery(const Request& req) {
  ListQuery q;
  auto limit = ParseLimit(req, q.limit);
  if (!limit.ok()) return limit.error();
  q.limit = *limit;
  if (auto sort = req.QueryParam("sort")) {
    if (*sort == "id")
      q.sort = SortOrder::kIdAsc;
    else if (*sort == "newest")
      q.sort = SortOrder::kNewest;
    else if (*sort == "price")
      q.sort = SortOrder::kPriceAsc;
    else if (*sort == "-price")
      q.sort = SortOrder::kPriceDesc;
    else if (*sort == "name")
      q.sort = SortOrder::kNameAsc;
    else if (*sort == "likes")
      q.sort = SortOrder::kLikes;
    else
      return MakeError(Errc::kValidationFailed,
                       "sort must be one of id, newest, price, -price, name, likes", "sort");
  }
  if (auto state = req.QueryParam("saleState")) {
    q.sale_state = ParseSaleState(*state);
    if (!q.sale_state) {
      return MakeError(Errc::kValidationFailed,
                       "saleState must be one of upcoming, live, soldout, ended, none",
                       "saleState");
    }
  }
  q.member_id = req.MemberId();
  if (auto cursor = req.QueryParam("cursor")) {
    if (cursor->size() > 1024)
      return MakeError(Errc::kValidationFailed, "invalid cursor", "cursor");
    q.cursor = std::move(*cursor);
  }
  if (auto search = req.QueryParam("q")) {
    if (json::CountCodePoints(*search) > 100) {
      return MakeError(Errc::kValidationFailed, "q must be at most 100 characters", "q");
    }
    q.search = std::move(*search);
  }
  return q;
}

}  // namespace

boost::json::object ProductJson(const ProductView& view) {
  const Product& p = view.product;
  boost::json::object o;
  o["id"] = p.id;
  o["name"] = p.name;
  o["description"] = p.description;
  o["price"] = p.price;
  o["imageUrl"] = p.image_url;
  o["stock"] = view.stock;
  o["likes"] = view.likes;
  if (view.liked_by_me) o["likedByMe"] = *view.liked_by_me;
  o["saleState"] = SaleStateName(view.sale_state);
  if (view.sale) {
    o["sale"] = {{"startsAt", FormatRfc3339(view.sale->starts_at)},
                 {"endsAt", FormatRfc3339(view.sale->ends_at)},
                 {"perMemberLimit", view.sale->per_member_limit},
                 {"state", SaleStateName(view.sale_state)}};
  }
  o["createdAt"] = FormatRfc3339(p.created_at);
  o["updatedAt"] = FormatRfc3339(p.updated_at);
  return o;
}

boost::json::object BasketLineJson(const BasketLine& line) {
  boost::json::object o;
  o["productId"] = line.product_id;
  o["name"] = line.name;
  o["quantity"] = line.quantity;
  o["price"] = line.price;
  o["lineTotal"] = line.line_total;
  o["stock"] = line.stock;
  o["saleState"] = SaleStateName(line.sale_state);
  o["addedAt"] = FormatRfc3339(line.added_at);
  return o;
}

boost::json::object BasketJson(const BasketView& basket) {
  boost::json::array items;
  items.reserve(basket.items.size());
  for (const BasketLine& line : basket.items) items.push_back(BasketLineJson(line));
  boost::json::object o;
  o["items"] = std::move(items);
  o["total"] = basket.total;
  return o;
}

void RegisterRoutes(http::Router& router, CatalogService& catalog, ProductDecorator decorator) {
  auto product_json = [decorator](const ProductView& view) {
    boost::json::object o = ProductJson(view);
    if (decorator) decorator(view.product.id, o);
    return o;
  };

  router.Add(
      http::Method::get, "/products", {.query = {"limit", "sort", "saleState", "cursor", "q"}},
      [&catalog, product_json](Request& req) -> awaitable<Response> {
        auto query = ParseListQuery(req);
        if (!query.ok()) co_return http::ErrorResponse(query.error());
        auto page = co_await catalog.List(std::move(*query), req.deadline);
        if (!page.ok()) co_return http::ErrorResponse(page.error());
        boost::json::array items;
        items.reserve(page->items.size());
        for (const auto& view : page->items) items.push_back(product_json(view));
        boost::json::object body;
        body["items"] = std::move(items);
        body["nextCursor"] = page->next_cursor.empty() ? boost::json::value(nullptr)
                                                       : boost::json::value(page->next_cursor);
        co_return http::JsonResponse(http::Status::ok, body);
      });

  auto get_one = [&catalog, product_json](Request& req) -> awaitable<Response> {
    auto id = req.IdParam("id");
    if (!id.ok()) co_return http::ErrorResponse(id.error());
    auto view = co_await catalog.Get(*id, req.MemberId(), req.deadline);
    if (!view.ok()) co_return http::ErrorResponse(view.error());
    if (!*view) co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such product"));
    co_return http::JsonResponse(http::Status::ok, product_json(**view));
  };
  router.Add(http::Method::get, "/products/{id}", {}, get_one);
  router.Add(http::Method::get, "/products/detail/{id}", {}, get_one);

  router.Add(http::Method::post, "/products", {.access = http::Access::kAdmin},
             [&catalog, product_json](Request& req) -> awaitable<Response> {
               auto draft = ParseDraft(req.Body());
               if (!draft.ok()) co_return http::ErrorResponse(draft.error());
               auto created = co_await catalog.Create(std::move(*draft), req.deadline);
               if (!created.ok()) co_return http::ErrorResponse(created.error());
               Response res = http::JsonResponse(http::Status::created, product_json(*created));
               res.set(http::beast_http::field::location,
                       "/products/" + std::to_string(created->product.id));
               co_return res;
             });

  router.Add(http::Method::put, "/products/{id}", {.access = http::Access::kAdmin},
             [&catalog, product_json](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto changes = ParseChanges(req.Body());
               if (!changes.ok()) co_return http::ErrorResponse(changes.error());
               auto updated = co_await catalog.Update(*id, std::move(*changes), req.deadline);
               if (!updated.ok()) co_return http::ErrorResponse(updated.error());
               co_return http::JsonResponse(http::Status::ok, product_json(*updated));
             });

  router.Add(http::Method::delete_, "/products/{id}", {.access = http::Access::kAdmin},
             [&catalog](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto retired = co_await catalog.Retire(*id);
               if (!retired.ok()) co_return http::ErrorResponse(retired.error());
               co_return http::NoContent();
             });

  // Likes: PUT/DELETE are idempotent; POST /products/like/{id} is the original's toggle.
  auto like_route = [&catalog](LikeOp op) {
    return [&catalog, op](Request& req) -> awaitable<Response> {
      auto id = req.IdParam("id");
      if (!id.ok()) co_return http::ErrorResponse(id.error());
      auto state = co_await catalog.ChangeLike(req.MemberId(), *id, op);
      if (!state.ok()) co_return http::ErrorResponse(state.error());
      boost::json::object body;
      body["likes"] = state->likes;
      body["likedByMe"] = state->liked_by_me;
      co_return http::JsonResponse(http::Status::ok, body);
    };
  };
  const http::RouteOptions member{.access = http::Access::kMember, .body = http::BodyRule::kNone};
  router.Add(http::Method::put, "/products/{id}/like", member, like_route(LikeOp::kLike));
  router.Add(http::Method::delete_, "/products/{id}/like", member, like_route(LikeOp::kUnlike));
  router.Add(http::Method::post, "/products/like/{id}", member, like_route(LikeOp::kToggle));

  // The caller's own likes, most recent first (members' "my page" reads it over HTTP with the
  // member's token when the services run apart).
  router.Add(http::Method::get, "/products/likes",
             {.access = http::Access::kMember, .query = {"limit"}},
             [&catalog](Request& req) -> awaitable<Response> {
               auto limit = ParseLimit(req, kDefaultLikesPage);
               if (!limit.ok()) co_return http::ErrorResponse(limit.error());
               auto likes = co_await catalog.LikedBy(req.MemberId(), *limit);
               if (!likes.ok()) co_return http::ErrorResponse(likes.error());
               boost::json::array items;
               items.reserve(likes->size());
               for (const Like& like : *likes) {
                 items.push_back(boost::json::object{{"productId", like.product_id},
                                                     {"likedAt", FormatRfc3339(like.liked_at)}});
               }
               co_return http::JsonResponse(http::Status::ok,
                                            boost::json::object{{"items", std::move(items)}});
             });
}

namespace {

constexpr json::IntBounds kQuantityBounds{.min = kLineQuantityMin, .max = kLineQuantityMax};
constexpr json::IntBounds kIdBounds{.min = 1, .max = INT64_MAX};

struct WishRequest {
  std::int64_t product_id = 0;
  std::int64_t quantity = 1;
};

Result<WishRequest> ParseWish(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  auto product_id = r.RequiredInt("productId", kIdBounds);
  auto quantity = r.OptionalInt("quantity", kQuantityBounds);
  // The original's clients send these too; accepted and ignored (the current product wins).
  (void)r.OptionalString("productName", {.min_chars = 0, .max_chars = kNameMaxChars});
  (void)r.OptionalInt("price", {.min = 0, .max = kPriceMax});
  if (auto st = r.Finish(); !st.ok()) return st.error();
  return WishRequest{*product_id, quantity.value_or(1)};
}

Result<std::int64_t> ParseQuantity(std::string_view body) {
  auto object = json::ParseObject(body);
  if (!object.ok()) return object.error();
  json::FieldReader r(*object);
  auto quantity = r.RequiredInt("quantity", kQuantityBounds);
  if (auto st = r.Finish(); !st.ok()) return st.error();
  return *quantity;
}

}  // namespace

void RegisterShoppingRoutes(http::Router& router, ShoppingService& shopping) {
  const http::RouteOptions member{.access = http::Access::kMember, .max_body_bytes = 4096};

  router.Add(http::Method::get, "/products/wishlist", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto wishlist = co_await shopping.Wishlist(req.MemberId(), req.deadline);
               if (!wishlist.ok()) co_return http::ErrorResponse(wishlist.error());
               co_return http::JsonResponse(http::Status::ok, BasketJson(*wishlist));
             });
  router.Add(http::Method::post, "/products/wishlist", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto wish = ParseWish(req.Body());
               if (!wish.ok()) co_return http::ErrorResponse(wish.error());
               auto line = co_await shopping.AddToWishlist(req.MemberId(), wish->product_id,
                                                           wish->quantity, req.deadline);
               if (!line.ok()) co_return http::ErrorResponse(line.error());
               co_return http::JsonResponse(http::Status::ok, BasketLineJson(*line));
             });
  router.Add(http::Method::delete_, "/products/wishlist/{productId}", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto removed = co_await shopping.RemoveFromWishlist(req.MemberId(), *id);
               if (!removed.ok()) co_return http::ErrorResponse(removed.error());
               co_return http::NoContent();
             });

  router.Add(http::Method::get, "/cart", member, [&shopping](Request& req) -> awaitable<Response> {
    auto cart = co_await shopping.Cart(req.MemberId(), req.deadline);
    if (!cart.ok()) co_return http::ErrorResponse(cart.error());
    co_return http::JsonResponse(http::Status::ok, BasketJson(*cart));
  });
  router.Add(http::Method::put, "/cart/items/{productId}", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto quantity = ParseQuantity(req.Body());
               if (!quantity.ok()) co_return http::ErrorResponse(quantity.error());
               auto cart =
                   co_await shopping.SetCartQuantity(req.MemberId(), *id, *quantity, req.deadline);
               if (!cart.ok()) co_return http::ErrorResponse(cart.error());
               co_return http::JsonResponse(http::Status::ok, BasketJson(*cart));
             });
  router.Add(http::Method::delete_, "/cart/items/{productId}", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto id = req.IdParam("productId");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               auto cart = co_await shopping.RemoveFromCart(req.MemberId(), *id, req.deadline);
               if (!cart.ok()) co_return http::ErrorResponse(cart.error());
               co_return http::JsonResponse(http::Status::ok, BasketJson(*cart));
             });
  router.Add(http::Method::delete_, "/cart", member,
             [&shopping](Request& req) -> awaitable<Response> {
               auto cleared = co_await shopping.ClearCart(req.MemberId());
               if (!cleared.ok()) co_return http::ErrorResponse(cleared.error());
               co_return http::NoContent();
             });
}

}  // namespace rocketmart::catalog

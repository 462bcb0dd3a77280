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

Result<ListQuery> ParseListQuery(const Request& req) {
  ListQuery q;
  if (auto limit = req.QueryParam("limit")) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || p != limit->data() + limit->size() || n < 1 || n > kMaxPageSize) {
      return MakeError(Errc::kValidationFailed, "limit must be between 1 and 100", "limit");
    }
    q.limit = n;
  }
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
    else
      return MakeError(Errc::kValidationFailed,
                       "sort must be one of id, newest, price, -price, name", "sort");
  }
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
  o["createdAt"] = FormatRfc3339(p.created_at);
  o["updatedAt"] = FormatRfc3339(p.updated_at);
  return o;
}

void RegisterRoutes(http::Router& router, CatalogService& catalog, ProductDecorator decorator) {
  auto product_json = [decorator](const ProductView& view) {
    boost::json::object o = ProductJson(view);
    if (decorator) decorator(view.product.id, o);
    return o;
  };

  router.Add(http::Method::get, "/products", {},
             [&catalog, product_json](Request& req) -> awaitable<Response> {
               auto query = ParseListQuery(req);
               if (!query.ok()) co_return http::ErrorResponse(query.error());
               auto page = catalog.List(*query);
               if (!page.ok()) co_return http::ErrorResponse(page.error());
               boost::json::array items;
               items.reserve(page->items.size());
               for (const auto& view : page->items) items.push_back(product_json(view));
               boost::json::object body;
               body["items"] = std::move(items);
               body["nextCursor"] = page->next_cursor.empty()
                                        ? boost::json::value(nullptr)
                                        : boost::json::value(page->next_cursor);
               co_return http::JsonResponse(http::Status::ok, body);
             });

  auto get_one = [&catalog, product_json](Request& req) -> awaitable<Response> {
    auto id = req.IdParam("id");
    if (!id.ok()) co_return http::ErrorResponse(id.error());
    auto view = catalog.Get(*id);
    if (!view) co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such product"));
    co_return http::JsonResponse(http::Status::ok, product_json(*view));
  };
  router.Add(http::Method::get, "/products/{id}", {}, get_one);
  router.Add(http::Method::get, "/products/detail/{id}", {}, get_one);

  router.Add(http::Method::post, "/products", {.access = http::Access::kAdmin},
             [&catalog, product_json](Request& req) -> awaitable<Response> {
               auto draft = ParseDraft(req.Body());
               if (!draft.ok()) co_return http::ErrorResponse(draft.error());
               auto created = co_await catalog.Create(std::move(*draft));
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
               auto updated = co_await catalog.Update(*id, std::move(*changes));
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
}

}  // namespace rocketmart::catalog

#include "services/storefront/adapters/http_routes.hpp"

#include <boost/json.hpp>

#include "core/time_format.hpp"

namespace rocketmart::storefront {

using boost::asio::awaitable;

namespace {

awaitable<http::Response> OpenStream(http::Request& req, StockStreamHub& hub,
                                     const StockReader& reader, std::vector<std::int64_t> ids) {
  std::string_view last_header = req.Header("Last-Event-ID");
  const auto last_query = req.QueryParam("lastEventId");
  if (last_header.empty() && last_query) last_header = *last_query;
  auto last = ParseLastEventId(last_header);
  if (!last.ok()) co_return http::ErrorResponse(last.error());
  for (std::int64_t id : ids) {
    if (!reader.Read(id))
      co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such product"));
  }
  auto ticket = hub.Reserve();
  if (!ticket) {
    http::Response res = http::ErrorResponse(
        MakeError(Errc::kOverloaded, "too many live stock streams; retry later"));
    res.set(http::beast_http::field::retry_after, "5");
    co_return res;
  }
  http::Response res{http::Status::ok, 11};
  res.set(http::beast_http::field::content_type, "text/event-stream; charset=utf-8");
  res.set(http::beast_http::field::cache_control, "no-store");
  res.set("X-Accel-Buffering", "no");  // proxies must not buffer the stream
  const std::uint64_t last_id = *last;
  req.stream = [&hub, ids = std::move(ids), last_id,
                ticket = std::move(ticket)](http::StreamWriter& writer) -> awaitable<void> {
    co_await hub.Serve(ids, last_id, writer);
  };
  co_return res;
}

http::Response NotBuilt() {
  return http::ErrorResponse(
      MakeError(Errc::kUnavailable,
                "the storefront was not built (make build bundles it next to the binary)"));
}

}  // namespace

void RegisterPageRoutes(http::Router& router, std::shared_ptr<const StaticAssets> assets) {
  for (std::string_view path : kPageRoutes) {
    router.Add(http::Method::get, std::string(path), {.page = true, .exempt_from_limits = true},
               [assets](http::Request& req) -> awaitable<http::Response> {
                 if (!assets) co_return NotBuilt();
                 co_return StaticAssets::Answer(assets->index(), req);
               });
  }
  router.Add(http::Method::get, "/assets/{file}", {.exempt_from_limits = true},
             [assets](http::Request& req) -> awaitable<http::Response> {
               if (!assets) co_return NotBuilt();
               std::string_view name;
               for (const auto& [key, value] : req.params) {
                 if (key == "file") name = value;
               }
               const Asset* asset = assets->Find(name);
               if (!asset)
                 co_return http::ErrorResponse(MakeError(Errc::kNotFound, "no such file"));
               co_return StaticAssets::Answer(*asset, req);
             });
}

void RegisterStreamRoutes(http::Router& router, StockStreamHub& hub, const StockReader& reader) {
  router.Add(http::Method::get, "/products/{id}/stock/stream", {.query = {"lastEventId"}},
             [&hub, &reader](http::Request& req) -> awaitable<http::Response> {
               auto id = req.IdParam("id");
               if (!id.ok()) co_return http::ErrorResponse(id.error());
               std::vector<std::int64_t> ids{*id};
               co_return co_await OpenStream(req, hub, reader, std::move(ids));
             });
  router.Add(http::Method::get, "/stock/stream", {.query = {"products", "lastEventId"}},
             [&hub, &reader](http::Request& req) -> awaitable<http::Response> {
               auto ids = ParseProductIds(req.QueryParam("products").value_or(""),
                                          hub.options().max_products);
               if (!ids.ok()) co_return http::ErrorResponse(ids.error());
               co_return co_await OpenStream(req, hub, reader, std::move(*ids));
             });
}

void RegisterTimeRoute(http::Router& router, const Clock& clock) {
  router.Add(http::Method::get, "/time", {}, [&clock](http::Request&) -> awaitable<http::Response> {
    const TimePoint now = clock.Now();
    boost::json::object body;
    body["now"] = FormatRfc3339(now);
    body["epochMs"] = ToUnixMillis(now);
    http::Response res = http::JsonResponse(http::Status::ok, body);
    res.set(http::beast_http::field::cache_control, "no-store");
    co_return res;
  });
}

}  // namespace rocketmart::storefront

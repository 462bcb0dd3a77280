#include "app/ops_routes.hpp"

#include <boost/json.hpp>

namespace rocketmart::app {

using boost::asio::awaitable;

void RegisterOpsRoutes(http::Router& router, std::function<bool()> ready, StoreCheck stores) {
  router.Add(
      http::Method::get, "/health", {},
      [ready, stores](http::Request&) -> awaitable<http::Response> {
        if (!ready()) {
          co_return http::ErrorResponse(MakeError(Errc::kUnavailable, "starting or stopping"));
        }
        const std::vector<StoreHealth> checked = co_await stores();
        boost::json::object by_name;
        std::string unwritable;
        for (const StoreHealth& store : checked) {
          by_name[store.name] = store.writable ? "ok" : "unwritable";
          if (!store.writable) unwritable += (unwritable.empty() ? "" : ", ") + store.name;
        }
        if (unwritable.empty()) {
          co_return http::JsonResponse(
              http::Status::ok,
              boost::json::object{{"status", "ok"}, {"stores", std::move(by_name)}});
        }
        http::Response error = http::ErrorResponse(
            MakeError(Errc::kUnavailable, "cannot write: " + unwritable, "stores"));
        boost::json::object body = boost::json::parse(error.body()).as_object();
        body["status"] = "unavailable";
        body["stores"] = std::move(by_name);
        co_return http::JsonResponse(http::Status::service_unavailable, body);
      });
  router.Add(http::Method::get, "/openapi.json", {},
             [](http::Request&) -> awaitable<http::Response> {
               co_return http::JsonText(http::Status::ok, kOpenApiDocument);
             });
}

void RegisterMetricsRoute(http::Router& router, metrics::Registry& metrics) {
  router.Add(http::Method::get, "/metrics", {},
             [&metrics](http::Request&) -> awaitable<http::Response> {
               co_return http::TextResponse(http::Status::ok, metrics.RenderPrometheus(),
                                            "text/plain; version=0.0.4");
             });
}

}  // namespace rocketmart::app

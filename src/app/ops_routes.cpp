#include "app/ops_routes.hpp"

#include <boost/json.hpp>

namespace rocketmart::app {

using boost::asio::awaitable;

void RegisterOpsRoutes(http::Router& router, metrics::Registry& metrics,
                       std::function<bool()> ready) {
  router.Add(
      http::Method::get, "/health", {}, [ready](http::Request&) -> awaitable<http::Response> {
        if (!ready()) {
          co_return http::ErrorResponse(MakeError(Errc::kUnavailable, "starting or stopping"));
        }
        co_return http::JsonText(http::Status::ok, R"({"status":"ok"})");
      });
  router.Add(http::Method::get, "/metrics", {},
             [&metrics](http::Request&) -> awaitable<http::Response> {
               co_return http::TextResponse(http::Status::ok, metrics.RenderPrometheus(),
                                            "text/plain; version=0.0.4");
             });
  router.Add(http::Method::get, "/openapi.json", {},
             [](http::Request&) -> awaitable<http::Response> {
               co_return http::JsonText(http::Status::ok, kOpenApiDocument);
             });
}

}  // namespace rocketmart::app

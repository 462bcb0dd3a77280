#include "app/ops_routes.hpp"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "app/build_info.hpp"

namespace rocketmart::app {

using boost::asio::awaitable;

void RegisterOpsRoutes(http::Router& router, std::function<bool()> ready, StoreCheck stores) {
  router.Add(
      http::Method::get, "/health", {.exempt_from_limits = true},
      [ready, stores](http::Request&) -> awaitable<http::Response> {
        if (!ready()) {
          co_return http::ErrorResponse(MakeError(Errc::kUnavailable, "starting or stopping"));
        }
        const std::vector<StoreHealth> checked = co_await stores();
        boost::json::object by_name;
        std::string unwritable, unreachable;
        for (const StoreHealth& store : checked) {
          by_name[store.name] = store.writable ? std::string_view("ok") : store.down;
          if (store.writable) continue;
          std::string& list = store.down == "unwritable" ? unwritable : unreachable;
          list += (list.empty() ? "" : ", ") + store.name;
        }
        if (unwritable.empty() && unreachable.empty()) {
          co_return http::JsonResponse(
              http::Status::ok,
              boost::json::object{{"status", "ok"}, {"stores", std::move(by_name)}});
        }
        std::string why = unwritable.empty() ? "" : "cannot write: " + unwritable;
        if (!unreachable.empty()) {
          why += std::string(why.empty() ? "" : "; ") + "cannot reach: " + unreachable;
        }
        http::Response error =
            http::ErrorResponse(MakeError(Errc::kUnavailable, std::move(why), "stores"));
        boost::json::object body = boost::json::parse(error.body()).as_object();
        body["status"] = "unavailable";
        body["stores"] = std::move(by_name);
        co_return http::JsonResponse(http::Status::service_unavailable, body);
      });
  router.Add(http::Method::get, "/openapi.json", {.exempt_from_limits = true},
             [](http::Request&) -> awaitable<http::Response> {
               co_return http::JsonText(http::Status::ok, kOpenApiDocument);
             });
}

namespace {

// The scrape's bearer token against the configured one. The length may show in the timing; how
// many leading bytes of a guess were right does not.
bool TokenMatches(std::string_view authorization, const std::string& token) {
  static constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() != kScheme.size() + token.size()) return false;
  if (!authorization.starts_with(kScheme)) return false;
  return CRYPTO_memcmp(authorization.data() + kScheme.size(), token.data(), token.size()) == 0;
}

}  // namespace

void RegisterMetricsRoute(http::Router& router, metrics::Registry& metrics, std::string token) {
  router.Add(http::Method::get, "/metrics", {.exempt_from_limits = true},
             [&metrics, token = std::move(token)](http::Request& req) -> awaitable<http::Response> {
               if (!token.empty() && !TokenMatches(req.Header("Authorization"), token)) {
                 http::Response res = http::ErrorResponse(
                     MakeError(Errc::kUnauthenticated, "metrics need the operator token"));
                 res.set(http::beast_http::field::www_authenticate, "Bearer");
                 co_return res;
               }
               co_return http::TextResponse(http::Status::ok, metrics.RenderPrometheus(),
                                            "text/plain; version=0.0.4");
             });
}

void RegisterBuildInfo(metrics::Registry& registry) {
  registry.AddGauge("rocketmart_build_info", "The running build (always 1)",
                    "version=\"" + metrics::EscapeLabel(kBuildVersion) + "\",revision=\"" +
                        metrics::EscapeLabel(kBuildRevision) + "\"",
                    [] { return 1.0; });
}

}  // namespace rocketmart::app

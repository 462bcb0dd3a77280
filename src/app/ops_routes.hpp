// Operational endpoints: GET /health and GET /openapi.json on the public listener; GET /metrics
// (Prometheus text) on the admin listener (see RegisterMetricsRoute).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "infra/http/router.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"

namespace rocketmart::app {

// One store the server writes to (a service database, the mail directory) and whether it can.
using StoreHealth = module::StoreHealth;

// Reports every store; may probe one that failed before (so a recovered store reads healthy
// again even when no request writes to it).
using StoreCheck = std::function<boost::asio::awaitable<std::vector<StoreHealth>>()>;

// `ready` answers whether every module is up (databases open, relays running). /health answers
// 200 {"status":"ok","stores":{...}} when ready and every store can write, else 503 with the
// error body plus "status" and "stores" naming the store that cannot.
void RegisterOpsRoutes(http::Router& router, std::function<bool()> ready, StoreCheck stores);

// GET /metrics, for the admin listener. With a non-empty `token` the scrape must carry
// `Authorization: Bearer <token>` (compared in constant time), else 401.
void RegisterMetricsRoute(http::Router& router, metrics::Registry& metrics, std::string token);

// rocketmart_build_info{version,revision} 1.
void RegisterBuildInfo(metrics::Registry& registry);

// The OpenAPI document compiled into the binary from api/openapi.json.
extern const char* const kOpenApiDocument;

}  // namespace rocketmart::app
